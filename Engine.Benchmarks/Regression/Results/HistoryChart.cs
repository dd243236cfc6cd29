// benchmarks/history/<entry>.svg: an entry's throughput over the recorded runs of a history file,
// drawn by the tools' one chart module (Gba.Charts). Runs on different machines, kernel sets or thread
// counts are not comparable, so each such configuration is its own series; the quartiles are drawn
// with the median so a step that is inside one run's spread reads as such.
using System.Globalization;
using GbaEngine.Charts;

namespace GbaEngine.Benchmarks.Regression.Results;

internal static class HistoryChart
{
    /// <summary>One SVG per entry name, keyed by a file name made from the entry's name.</summary>
    public static IReadOnlyDictionary<string, string> Draw(IReadOnlyList<HistoryLine> runs)
    {
        if (runs.Count == 0) throw new InvalidDataException("the history has no recorded runs: nothing to draw.");
        var charts = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var names = runs.SelectMany(r => r.Entries.Keys).Distinct().Order(StringComparer.Ordinal);
        foreach (var name in names)
        {
            var series = new List<Series>();
            string unit = "";
            var configurations = runs.Select((r, i) => (Run: r, X: i + 1.0)).Where(p => p.Run.Entries.ContainsKey(name))
                .GroupBy(p => $"{p.Run.CpuModel}, {p.Run.Kernels}, {p.Run.Threads} thr");
            int colour = 0;
            foreach (var group in configurations)
            {
                string c = Svg.Palette[colour++ % Svg.Palette.Length];
                var points = group.Select(p => (p.X, Entry: p.Run.Entries[name])).ToList();
                unit = points[^1].Entry.Unit;
                double[] x = points.Select(p => p.X).ToArray();
                series.Add(new Series(group.Key, x, points.Select(p => p.Entry.Median).ToArray(), c, Markers: true));
                series.Add(new Series(colour == 1 ? "quartiles (dashed)" : "", x, points.Select(p => p.Entry.Q1).ToArray(), c, Dashed: true));
                series.Add(new Series("", x, points.Select(p => p.Entry.Q3).ToArray(), c, Dashed: true));
            }
            string first = runs.First(r => r.Entries.ContainsKey(name)).Commit, last = runs.Last(r => r.Entries.ContainsKey(name)).Commit;
            var spec = new PlotSpec($"{name}: median and quartiles per recorded run",
                string.Create(CultureInfo.InvariantCulture, $"recorded run ({Short(first)} .. {Short(last)})"), unit, Width: 520, Height: 300);
            charts[FileName(name)] = Svg.LinePlot(spec, series);
        }
        return charts;
    }

    /// <summary>"sgemm/512x256x8192" becomes "sgemm-512x256x8192.svg".</summary>
    public static string FileName(string entry) =>
        new string(entry.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' ? ch : '-').ToArray()) + ".svg";

    static string Short(string commit) => commit.Length > 7 ? commit[..7] : commit;
}
