using System.Text.Json.Nodes;
using System.Text.Encodings.Web;
using System.Text.Json;
using GbaEngine.Formats;
using GbaEngine.Evaluation;
using GbaEngine.Uses;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// A corpus feature table on disk (docs/feature-tables.md): DIR/features.json (the index: the corpus, the
/// settings, the log10-frequency histogram and every feature's statistics) and DIR/features/NNNNN.json per
/// feature that fired, close to Neuronpedia's feature JSON (index, frac_nonzero, maxActApprox, activations
/// with tokens / maxValue / maxValueTokenIndex). The directory is built beside DIR and renamed into place.
/// </summary>
public static class FeatureTableFiles
{
    /// <summary>The index file inside the table directory.</summary>
    public const string IndexFile = "features.json";

    /// <summary>The folder of per-feature files.</summary>
    public const string FeatureFolder = "features";

    /// <summary>The per-feature file name of feature <paramref name="index"/>, relative to the table directory.</summary>
    public static string FeaturePath(int index) => $"{FeatureFolder}/{index:D5}.json";

    /// <summary>Writes the table into <paramref name="dir"/> (which must not exist, be empty, or hold an earlier table).</summary>
    public static void Write(string dir, FeatureTable table, JsonObject header)
    {
        dir = Path.GetFullPath(dir.TrimEnd('/', '\\'));
        if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any() && !File.Exists(Path.Combine(dir, IndexFile)))
            throw new IOException($"{dir}: exists and is not a feature table (no {IndexFile}); give --out a new or empty directory.");
        string staging = $"{dir}.partial-{Environment.ProcessId}";
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        Directory.CreateDirectory(Path.Combine(staging, FeatureFolder));
        try
        {
            var stats = new JsonArray();
            foreach (var f in table.Features)
            {
                stats.Add(new JsonObject
                {
                    ["index"] = f.Index, ["fires"] = f.Fires, ["frac_nonzero"] = f.Frequency, ["max"] = f.Max, ["mean"] = f.Mean,
                    ["file"] = f.Fires > 0 ? FeaturePath(f.Index) : null,
                });
                if (f.Fires > 0) AtomicFile.WriteAllText(Path.Combine(staging, FeaturePath(f.Index)), Feature(f).ToResultJson(Readable) + "\n");
            }
            var index = (JsonObject)header.DeepClone();
            index["format"] = "gba-feature-table";
            index["format_version"] = 1;
            index["tokens"] = table.Tokens;
            index["d_sae"] = table.Features.Count;
            index["dead"] = table.Dead;
            index["top_k"] = table.Options.TopK;
            index["quantiles"] = table.Options.Quantiles;
            index["reservoir"] = table.Options.ReservoirSize;
            index["seed"] = table.Options.Seed;
            index["frequency_histogram"] = new JsonObject
            {
                ["min_log10"] = EvaluationMetrics.HistogramMinLog10,
                ["bin_width"] = EvaluationMetrics.HistogramBinWidth,
                ["counts"] = new JsonArray(table.FrequencyHistogram.Select(c => (JsonNode)c).ToArray()),
            };
            index["features"] = stats;
            AtomicFile.WriteAllText(Path.Combine(staging, IndexFile), index.ToResultJson(Readable) + "\n");
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.Move(staging, dir);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>Token text as written (no \u escapes for non-ASCII letters, quotes or the « » marks).</summary>
    internal static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static JsonObject Feature(FeatureSummary f) => new()
    {
        ["index"] = f.Index,
        ["fires"] = f.Fires,
        ["frac_nonzero"] = f.Frequency,
        ["maxActApprox"] = f.Max,
        ["mean_activation"] = f.Mean,
        ["activations"] = new JsonArray(f.Top.Select(Example).ToArray()),
        ["quantile_activations"] = new JsonArray(f.Quantiles.Select(Example).ToArray()),
    };

    static JsonNode Example(FeatureExample e)
    {
        var o = new JsonObject { ["row"] = e.Row, ["maxValue"] = e.Value };
        if (e.Quantile is { } q) o["quantile"] = q;
        if (e.Context is { } c)
        {
            o["sentence"] = c.Sentence;
            o["tokens"] = new JsonArray(c.Tokens.Select(t => (JsonNode)t).ToArray());
            o["maxValueTokenIndex"] = c.FiringIndex;
            o["text"] = string.Concat(c.Tokens.Take(c.FiringIndex)) + "\u00ab" + c.Tokens[c.FiringIndex] + "\u00bb" + string.Concat(c.Tokens.Skip(c.FiringIndex + 1));
        }
        return o;
    }
}
