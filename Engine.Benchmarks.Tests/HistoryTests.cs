using System.Xml.Linq;
using GbaEngine.Benchmarks.Regression;
using GbaEngine.Benchmarks.Regression.Results;
using static GbaEngine.Benchmarks.Tests.SyntheticResults;

namespace GbaEngine.Benchmarks.Tests;

public sealed class HistoryTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gba-history-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void AppendedRunsReadBackWithMedianAndQuartiles()
    {
        string history = PathOf("sub/regression.jsonl");
        HistoryFile.Append(history, HistoryFile.Summarize(Run([Entry("sgemm/1x2x3", [4, 1, 3, 2, 5])], Machine(commit: "c1"))));
        HistoryFile.Append(history, HistoryFile.Summarize(Run([Entry("sgemm/1x2x3", [10, 20, 30])], Machine(commit: "c2"), kernels: "scalar")));
        var lines = HistoryFile.Read(history);
        Assert.Equal(["c1", "c2"], lines.Select(l => l.Commit));
        var first = lines[0].Entries["sgemm/1x2x3"];
        Assert.Equal((3.0, 2.0, 4.0, 5), (first.Median, first.Q1, first.Q3, first.Samples));
        Assert.Equal("scalar", lines[1].Kernels);
        Assert.Equal(20, lines[1].Entries["sgemm/1x2x3"].Median);
    }

    [Fact]
    public void MalformedLineIsNamedWithItsNumber()
    {
        string history = PathOf("h.jsonl");
        HistoryFile.Append(history, HistoryFile.Summarize(Run([Entry("e", [1, 2])])));
        File.AppendAllText(history, "{ not json\n");
        var e = Assert.Throws<InvalidDataException>(() => HistoryFile.Read(history));
        Assert.Contains("h.jsonl, line 2", e.Message);
    }

    [Fact]
    public void ChartPerEntryWithOneSeriesPerConfiguration()
    {
        string history = PathOf("h.jsonl");
        foreach (var (commit, kernels, median) in new[] { ("c1", "avx512", 100.0), ("c2", "avx512", 90.0), ("c2", "scalar", 5.0) })
            HistoryFile.Append(history, HistoryFile.Summarize(Run(
                [Entry("sgemm/512x256x8192", [median * 0.9, median, median * 1.1]), Entry("loader/f16", [median])], Machine(commit: commit), kernels)));

        Assert.Equal(0, HistoryCommand.Chart(["--history-chart", history, PathOf("charts")]));

        Assert.Equal(["loader-f16.svg", "sgemm-512x256x8192.svg"], Directory.GetFiles(PathOf("charts")).Select(Path.GetFileName).Order());
        var svg = XDocument.Load(PathOf("charts/sgemm-512x256x8192.svg"));
        string text = string.Concat(svg.Descendants().Where(d => d.Name.LocalName == "text").Select(t => t.Value + "\n"));
        Assert.Contains("sgemm/512x256x8192", text);
        Assert.Contains("Test CPU, avx512, 1 thr", text);
        Assert.Contains("Test CPU, scalar, 1 thr", text);
        // A marker per median (2 avx512 runs, 1 scalar run); the scalar quartiles, one run each, are single points too.
        Assert.Equal(5, svg.Descendants().Count(d => d.Name.LocalName == "circle"));
    }

    [Fact]
    public void EmptyHistoryIsAnError()
    {
        File.WriteAllText(PathOf("empty.jsonl"), "");
        Assert.Contains("no recorded runs", Assert.Throws<InvalidDataException>(() => HistoryChart.Draw(HistoryFile.Read(PathOf("empty.jsonl")))).Message);
    }
}
