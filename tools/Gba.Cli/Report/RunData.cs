using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Cli.Runs;

namespace GbaEngine.Cli.Report;

/// <summary>
/// Everything the report reads from a run directory: config.json, summary.json, metrics.jsonl (one line
/// per evaluation), loss.jsonl (training loss and L0), neurons.json and top_activations.json. Each
/// part is optional except that at least one of them must exist; a malformed file is an error naming it.
/// Log lines repeated after a resume (same step written twice) keep the later line.
/// </summary>
public sealed class RunData
{
    public required string Directory { get; init; }
    public JsonObject? Config { get; init; }
    public JsonObject? Summary { get; init; }
    public IReadOnlyList<JsonObject> Evaluations { get; init; } = [];
    public IReadOnlyList<JsonObject> Loss { get; init; } = [];
    public JsonObject? Neurons { get; init; }
    public JsonObject? TopActivations { get; init; }
    /// <summary>The index of a corpus feature table written into the run directory (`gba features --out RUN/features`).</summary>
    public JsonObject? FeatureTable { get; init; }

    /// <summary>The effective options of the run (config.json "options"), or an empty object.</summary>
    public JsonObject Options => Config?["options"] as JsonObject ?? new JsonObject();

    /// <summary>Where the report looks for a corpus feature table, relative to the run directory.</summary>
    public const string FeatureTableFolder = "features";

    public static RunData Load(string dir)
    {
        if (!System.IO.Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such run directory.");
        var data = new RunData
        {
            Directory = dir,
            Config = Optional(dir, "config.json"),
            Summary = Optional(dir, "summary.json"),
            Evaluations = Lines(dir, "metrics.jsonl"),
            Loss = Lines(dir, LossLog.FileName),
            Neurons = Optional(dir, RunArtefacts.NeuronsFile),
            TopActivations = Optional(dir, RunArtefacts.TopActivationsFile),
            FeatureTable = Optional(dir, Path.Combine(FeatureTableFolder, FeatureTableFiles.IndexFile)),
        };
        if (data.Config is null && data.Summary is null && data.Evaluations.Count == 0 && data.Neurons is null)
            throw new InvalidDataException($"{dir}: not a run directory (no config.json, summary.json, metrics.jsonl or neurons.json; write one with gba train --out).");
        return data;
    }

    static JsonObject? Optional(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        return File.Exists(path) ? RunConfig.Parse(path) : null;
    }

    static List<JsonObject> Lines(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (!File.Exists(path)) return [];
        var byStep = new SortedDictionary<long, JsonObject>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject row;
            try { row = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not an object"); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: line {lineNo} is not a JSON object ({e.Message})."); }
            long step = row["step"] is { } s ? s.GetValue<long>() : lineNo;
            byStep[step] = row;
        }
        return byStep.Values.ToList();
    }

    /// <summary>The numbers of one key over log rows (NaN where missing or null).</summary>
    public static double[] Column(IReadOnlyList<JsonObject> rows, string key) =>
        rows.Select(r => r[key] is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN).ToArray();

    public static double[]? Doubles(JsonObject? obj, string key) =>
        obj?[key] is JsonArray a ? a.Select(n => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN).ToArray() : null;
}
