using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Evaluation;
using GbaEngine.Synthetic;
using GbaEngine.Training;
using GbaEngine.Rng;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// The files `gba train --out DIR` writes after training for `report` and `compare`:
/// neurons.json (per-neuron group, TAF, bias, scale, frequency, max and mean activation on the
/// evaluation tokens; per true feature the best cosine for synthetic ground truth) and, with
/// --token-text, top_activations.json (a sample of features with their strongest tokens in context).
/// </summary>
public static class RunArtefacts
{
    public const string NeuronsFile = "neurons.json", TopActivationsFile = "top_activations.json";
    const int SampleFeatures = 24, ContextWindow = 8, MinFires = 3;

    public static NeuronStats Write(string dir, TrainingResult result, EvaluationSet eval, TrainerOptions options,
        TokenText? text, long evalFirstRow)
    {
        var sae = result.Model;
        var stats = NeuronStats.Compute(sae, eval, options.Threads);
        var p = sae.Parameters;
        int m = sae.Neurons;
        var groups = result.Groups;
        var json = new JsonObject
        {
            ["neurons"] = m,
            ["eval_tokens"] = stats.Tokens,
            ["method"] = options.Method.ToString().ToLowerInvariant(),
            ["tafs"] = groups is null ? null : Array(groups.Tafs.Select(t => (JsonNode)t)),
            ["group"] = groups is null ? null : Array(groups.GroupOf.Select(g => (JsonNode)g)),
            ["bias"] = Array(p.Bias.ToArray().Select(b => (JsonNode)b)),
            ["scale"] = Array(p.Scale.ToArray().Select(a => (JsonNode)a)),
            ["frequency"] = Array(Enumerable.Range(0, m).Select(k => (JsonNode)(float)stats.Frequency(k))),
            ["max_activation"] = Array(stats.MaxActivation.Select(v => (JsonNode)v)),
            ["mean_activation"] = Array(Enumerable.Range(0, m).Select(k => (JsonNode)(float)(stats.Fires[k] == 0 ? 0 : stats.SumActivation[k] / stats.Fires[k]))),
        };
        if (result.Final.BestCosines is { } best)
            json["features"] = new JsonObject
            {
                ["best_cosine"] = Array(best.Select(c => (JsonNode)c)),
                ["frequency"] = eval.FeatureFrequencies is { } f ? Array(f.Select(x => (JsonNode)(float)x)) : null,
            };
        RunConfig.WriteAtomically(Path.Combine(dir, NeuronsFile), json, indented: false);
        if (text != null) WriteTopActivations(Path.Combine(dir, TopActivationsFile), stats, text, evalFirstRow, options.Seed);
        return stats;
    }

    static JsonArray Array(IEnumerable<JsonNode> items) => new(items.ToArray());

    /// <summary>A seeded sample of neurons that fired at least MinFires times, each with its strongest tokens in context.</summary>
    static void WriteTopActivations(string path, NeuronStats stats, TokenText text, long firstRow, ulong seed)
    {
        int m = stats.Fires.Length;
        var alive = Enumerable.Range(0, m).Where(k => stats.Fires[k] >= MinFires).ToArray();
        var rng = Xoshiro256.Derive(seed, 0x7E47);
        for (int i = alive.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (alive[i], alive[j]) = (alive[j], alive[i]);
        }
        var sample = alive.Take(SampleFeatures).OrderByDescending(k => stats.Fires[k]).ToArray();
        var features = new JsonArray();
        foreach (int k in sample)
        {
            var examples = new JsonArray();
            for (int i = 0; i < NeuronStats.TopCount; i++)
            {
                int row = stats.TopRow[k * NeuronStats.TopCount + i];
                if (row < 0) break;
                long global = firstRow + row;
                var (before, token, after) = text.Context(global, ContextWindow);
                examples.Add(new JsonObject
                {
                    ["row"] = global, ["activation"] = stats.TopValue[k * NeuronStats.TopCount + i],
                    ["before"] = before, ["token"] = token, ["after"] = after,
                });
            }
            features.Add(new JsonObject { ["neuron"] = k, ["frequency"] = (float)stats.Frequency(k), ["max_activation"] = stats.MaxActivation[k], ["examples"] = examples });
        }
        RunConfig.WriteAtomically(path, new JsonObject
        {
            ["token_text"] = Path.GetFullPath(text.Path),
            ["eval_first_row"] = firstRow,
            ["eval_tokens"] = stats.Tokens,
            ["alive_features"] = alive.Length,
            ["features"] = features,
        });
    }
}
