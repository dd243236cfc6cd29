using GbaEngine.Benchmarks.Regression.Results;

namespace GbaEngine.Benchmarks.Regression;

/// <summary>
/// `--history-append RESULTS.json HISTORY.jsonl` records a suite run in its history;
/// `--history-chart HISTORY.jsonl DIR` draws each entry's throughput over the recorded runs.
/// </summary>
internal static class HistoryCommand
{
    public const string Usage = """
        --history-append RESULTS.json HISTORY.jsonl
          Appends one line (commit, machine, per-entry median and quartiles) for the run to the history file.
        --history-chart HISTORY.jsonl DIR
          Writes DIR/<entry>.svg for every entry: median and quartiles per recorded run, one series per
          machine, kernel set and thread count.
        """;

    public static int Append(string[] args)
    {
        if (args.Length != 3) throw new ArgumentException("--history-append needs a results file and a history file: --history-append run.json history.jsonl.");
        var results = ResultsFile.Read(args[1]);
        HistoryFile.Append(args[2], HistoryFile.Summarize(results));
        Console.Error.WriteLine($"{args[2]}: recorded {results.Machine.Commit} ({results.Entries.Count} entries)");
        return 0;
    }

    public static int Chart(string[] args)
    {
        if (args.Length != 3) throw new ArgumentException("--history-chart needs a history file and a directory: --history-chart history.jsonl benchmarks/history.");
        var charts = HistoryChart.Draw(HistoryFile.Read(args[1]));
        Directory.CreateDirectory(args[2]);
        foreach (var (file, svg) in charts)
        {
            // Temp file + rename: a chart is either the old one or the new one, never half of one.
            string path = Path.Combine(args[2], file), tmp = path + ".tmp";
            File.WriteAllText(tmp, svg);
            File.Move(tmp, path, overwrite: true);
        }
        Console.Error.WriteLine($"{args[2]}: {charts.Count} charts from {args[1]}");
        return 0;
    }
}
