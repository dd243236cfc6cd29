using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Sweeps;

/// <summary>One point of a sweep: its index, run directory name, the value label per axis and its effective options.</summary>
public sealed record SweepPoint(int Index, string Name, IReadOnlyDictionary<string, string> Labels, JsonObject Options);

/// <summary>
/// A sweep file expanded into numbered runs. The file is
/// <code>
/// { "base": { train options, as in a config file },
///   "grid": { "method": ["gba", "ba"], "d_sae": [2048, 4096], "seed": [1, 2],
///             "tafs": [{"htf": 0.1, "ltf": 0.001}, {"htf": 0.05, "ltf": 0.005}],
///             "data": [["layer3.npy"], ["layer6.npy"]] },
///   "out": "runs/sweep1" }
/// </code>
/// Each grid axis is a list; the runs are the Cartesian product in file order with the last axis
/// varying fastest. A value that is an object sets several options together (its keys), so an axis
/// can be named freely ("tafs"); any other value sets the option the axis is named after. "out"
/// (optional, relative to the file) is the sweep directory; the default is the file's name without
/// extension beside it. Relative paths resolve against the sweep file's directory.
/// </summary>
public sealed class SweepPlan
{
    SweepPlan(string source, string directory, IReadOnlyList<string> axes, IReadOnlyList<SweepPoint> points)
    {
        Source = source; Directory = directory; Axes = axes; Points = points;
    }

    public string Source { get; }
    /// <summary>The sweep directory: runs go to Directory/run-III/.</summary>
    public string Directory { get; }
    public IReadOnlyList<string> Axes { get; }
    public IReadOnlyList<SweepPoint> Points { get; }

    public const string RunsFile = "runs.json";
    const int MaxPoints = 1_000_000;

    /// <param name="outOverride">--out, replacing the file's "out".</param>
    public static SweepPlan Load(string path, string? outOverride)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: sweep file not found.");
        var root = RunConfig.Parse(path);
        var baseDir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        foreach (var (key, _) in root)
            if (key is not ("base" or "grid" or "out")) throw new InvalidDataException($"{path}: unknown key '{key}' (a sweep file has \"base\", \"grid\" and \"out\").");
        var baseOptions = root["base"] switch
        {
            null => new JsonObject(),
            JsonObject o => RunConfig.ResolvePaths((JsonObject)o.DeepClone(), baseDir, path),
            _ => throw new InvalidDataException($"{path}: \"base\" must be an object of train options."),
        };
        var grid = root["grid"] as JsonObject ?? throw new InvalidDataException($"{path}: needs a \"grid\" object of option lists.");
        var axes = new List<(string Name, JsonNode?[] Values)>();
        foreach (var (name, node) in grid)
        {
            if (node is not JsonArray list || list.Count == 0) throw new InvalidDataException($"{path}: grid axis '{name}' must be a non-empty list.");
            axes.Add((name, list.Select(v => v?.DeepClone()).ToArray()));
        }
        long count = axes.Aggregate(1L, (n, a) => n * a.Values.Length);
        if (count > MaxPoints) throw new InvalidDataException($"{path}: the grid has {count} points (at most {MaxPoints}).");

        string dir = outOverride ?? (root["out"] is { } o2 && o2.GetValueKind() == JsonValueKind.String
            ? Path.Combine(baseDir, o2.GetValue<string>())
            : Path.Combine(baseDir, Path.GetFileNameWithoutExtension(path)));
        int width = Math.Max(3, (count - 1).ToString(CultureInfo.InvariantCulture).Length);

        var points = new List<SweepPoint>((int)count);
        for (int i = 0; i < count; i++)
        {
            var options = (JsonObject)baseOptions.DeepClone();
            var labels = new Dictionary<string, string>();
            long rest = i;
            var choice = new int[axes.Count];
            for (int a = axes.Count - 1; a >= 0; a--)
            {
                choice[a] = (int)(rest % axes[a].Values.Length);
                rest /= axes[a].Values.Length;
            }
            for (int a = 0; a < axes.Count; a++)
            {
                var (name, values) = axes[a];
                var value = values[choice[a]];
                if (value is JsonObject set)
                {
                    var resolved = RunConfig.ResolvePaths((JsonObject)set.DeepClone(), baseDir, path);
                    foreach (var (k, v) in resolved) options[k] = v?.DeepClone();
                }
                else options[name] = RunConfig.ResolvePaths(new JsonObject { [name] = value?.DeepClone() }, baseDir, path)[name]?.DeepClone();
                labels[name] = Label(value);
            }
            foreach (var (key, _) in options)
                if (!TrainOptions.Configurable.Contains("--" + key.Replace('_', '-')))
                    throw new InvalidDataException($"{path}: unknown option '{key}' in run {i} (base and grid keys are gba train options without the dashes).");
            points.Add(new SweepPoint(i, "run-" + i.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0'), labels, options));
        }
        return new SweepPlan(Path.GetFullPath(path), Path.GetFullPath(dir), axes.Select(a => a.Name).ToList(), points);
    }

    /// <summary>A short text for a grid value: scalars as written, objects as k=v pairs, path lists by file name.</summary>
    static string Label(JsonNode? v) => v switch
    {
        null => "null",
        JsonObject o => string.Join(",", o.Select(kv => $"{kv.Key}={Label(kv.Value)}")),
        JsonArray a => string.Join("+", a.Select(Label)),
        _ when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>() is var s && (s.Contains('/') || s.Contains('\\')) ? Path.GetFileName(s) : s,
        _ => v.ToJsonString(),
    };

    /// <summary>The point to run: --index, else SLURM_ARRAY_TASK_ID.</summary>
    public SweepPoint Select(string? index, string? slurmTaskId)
    {
        string? text = index ?? slurmTaskId;
        if (text is null) throw new UsageException("--sweep needs --index I (or SLURM_ARRAY_TASK_ID in the environment)");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int i))
            throw new UsageException($"sweep index '{text}'{(index is null ? " (from SLURM_ARRAY_TASK_ID)" : "")} is not a non-negative integer");
        if (i >= Points.Count)
            throw new UsageException($"sweep index {i}{(index is null ? " (SLURM_ARRAY_TASK_ID)" : "")} is out of range: {Source} has {Points.Count} runs (0..{Points.Count - 1})");
        return Points[i];
    }

    /// <summary>The runs.json that `gba sweep` writes: index → directory, labels and effective options.</summary>
    public JsonObject ToJson() => new()
    {
        ["sweep"] = Source,
        ["out"] = Directory,
        ["count"] = Points.Count,
        ["axes"] = new JsonArray(Axes.Select(a => (JsonNode)a).ToArray()),
        ["runs"] = new JsonArray(Points.Select(p => (JsonNode)new JsonObject
        {
            ["index"] = p.Index,
            ["dir"] = p.Name,
            ["labels"] = new JsonObject(p.Labels.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["config"] = p.Options.DeepClone(),
        }).ToArray()),
    };
}
