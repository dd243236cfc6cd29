using GbaEngine.Benchmarks.Regression.Results;

namespace GbaEngine.Benchmarks.Regression;

/// <summary>`--history-append RESULTS.json HISTORY.jsonl`: records a suite run in its history.</summary>
internal static class HistoryCommand
{
    public const string Usage = """
        --history-append RESULTS.json HISTORY.jsonl
          Appends one line (commit, machine, per-entry median and quartiles) for the run to the history file.
        """;

    public static int Append(string[] args)
    {
        if (args.Length != 3) throw new ArgumentException("--history-append needs a results file and a history file: --history-append run.json history.jsonl.");
        var results = ResultsFile.Read(args[1]);
        HistoryFile.Append(args[2], HistoryFile.Summarize(results));
        Console.Error.WriteLine($"{args[2]}: recorded {results.Machine.Commit} ({results.Entries.Count} entries)");
        return 0;
    }
}
