// benchmarks/history/<suite>.jsonl: one line per recorded run (tools/bench/run-benchmarks.sh --record),
// the per-entry medians and quartiles of a results file with its commit and machine, so throughput
// can be followed over commits without keeping every sample of every run in the repository.
using System.Text.Json;

namespace GbaEngine.Benchmarks.Regression.Results;

/// <summary>One recorded run, as one JSON line.</summary>
internal sealed record HistoryLine
{
    public required string Commit { get; init; }
    public required DateTime CreatedUtc { get; init; }
    public required string Suite { get; init; }
    public required string Mode { get; init; }
    public required string Kernels { get; init; }
    public required int Threads { get; init; }
    public required string Clock { get; init; }
    public required string CpuModel { get; init; }
    public required string CpuId { get; init; }
    public required int LogicalCores { get; init; }
    public required string Dotnet { get; init; }
    public required double[] LoadAverageStart { get; init; }
    public required IReadOnlyDictionary<string, HistoryEntry> Entries { get; init; }
}

/// <summary>An entry's samples in brief: median and quartiles on the run's clock.</summary>
internal sealed record HistoryEntry(string Unit, double Median, double Q1, double Q3, int Samples);

internal static class HistoryFile
{
    static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static HistoryLine Summarize(BenchmarkResults r) => new()
    {
        Commit = r.Machine.Commit,
        CreatedUtc = r.CreatedUtc,
        Suite = r.Suite,
        Mode = r.Mode,
        Kernels = r.Kernels,
        Threads = r.Threads,
        Clock = r.Clock,
        CpuModel = r.Machine.CpuModel,
        CpuId = r.Machine.CpuId,
        LogicalCores = r.Machine.LogicalCores,
        Dotnet = r.Machine.Dotnet,
        LoadAverageStart = r.Load.LoadAverageStart,
        Entries = r.Entries.ToDictionary(e => e.Name, e =>
        {
            var v = e.Samples.Select(s => s.Value).Order().ToArray();
            return new HistoryEntry(e.Unit, RegressionCommand.Quantile(v, 0.5), RegressionCommand.Quantile(v, 0.25), RegressionCommand.Quantile(v, 0.75), v.Length);
        }),
    };

    /// <summary>Appends one line (the file and its directory are created when missing).</summary>
    public static void Append(string path, HistoryLine line)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        // One write of one whole line: a reader never sees half a record.
        File.AppendAllText(path, JsonSerializer.Serialize(line, Options) + "\n");
    }

    /// <summary>Every line of a history file, oldest first; a malformed line is an error naming file and line.</summary>
    public static List<HistoryLine> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such history file.", path);
        var lines = new List<HistoryLine>();
        int number = 0;
        foreach (var text in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            try
            {
                lines.Add(JsonSerializer.Deserialize<HistoryLine>(text, Options) ?? throw new JsonException("null record"));
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}, line {number}: not a history record ({e.Message}).", e);
            }
        }
        return lines;
    }
}
