using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Evaluation;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// recovery.json in a run directory: FRR at 0.8/0.9 and, per true feature, its best cosine with any
/// decoder direction (and its occurrence frequency when the generator knows it), so a run on any data
/// with known features can be checked feature by feature. Shared by `train` and `eval`.
/// </summary>
public static class RecoveryFile
{
    public const string Name = "recovery.json";

    public static JsonObject Build(EvaluationMetrics m, double[]? frequencies)
    {
        var best = m.BestCosines ?? throw new ArgumentException("No ground truth: nothing to report.");
        var json = new JsonObject
        {
            ["features"] = best.Length,
            ["frr_0_8"] = m.Frr08,
            ["frr_0_9"] = m.Frr09,
            ["best_cosine"] = new JsonArray(best.Select(c => (JsonNode)Math.Round(c, 6)).ToArray()),
        };
        if (frequencies is { } f && f.Length == best.Length) json["frequency"] = new JsonArray(f.Select(x => (JsonNode)x).ToArray());
        return json;
    }

    /// <summary>Writes DIR/recovery.json via a temporary file and a rename (never half-written).</summary>
    public static void Write(string directory, EvaluationMetrics m, double[]? frequencies)
    {
        var path = Path.Combine(directory, Name);
        var tmp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(tmp, Build(m, frequencies).ToResultJson(new JsonSerializerOptions { WriteIndented = false }));
        File.Move(tmp, path, overwrite: true);
    }
}
