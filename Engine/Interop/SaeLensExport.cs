using System.Text.Json.Nodes;
using GbaEngine.Model;
using GbaEngine.Training;

namespace GbaEngine.Interop;

/// <summary>
/// Exports an SAE in the SAELens layout (spec/formats.md): a directory with cfg.json and
/// sae_weights.safetensors holding W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
/// and, for JumpReLU, threshold [d_sae]. The dataset scale s (x̃ = s·x) is folded in so the exported SAE
/// works on raw activations: z = s·u·(x − b_pre/s), hence W_enc = s·u, b_dec = b_pre/s, and since the
/// output f = a·h lives in the scaled space, W_dec rows = a_m·w_m / s. JumpReLU: b_enc = 0 and
/// threshold = −b, so SAELens' f = z·1[z &gt; threshold] reproduces 1[z + b &gt; 0] exactly. A ReLU with a
/// firing threshold θ (BatchTopK's inference form, h = y·1[y &gt; θ]) is "jumprelu" too, with b_enc = b and
/// threshold = θ for every neuron, so SAELens' pre-activation is y itself.
/// Our extras (method, groups, TAFs, scale) go under cfg.json's "gba_engine" key.
/// </summary>
public static class SaeLensExport
{
    public const string WeightsFile = "sae_weights.safetensors", ConfigFile = "cfg.json";

    public static void Write(string directory, SparseAutoencoder sae, TrainerOptions? training = null, GroupBiasAdaptation? groups = null,
        IReadOnlyDictionary<string, string?>? metadata = null)
    {
        if (sae.Normalization != InputNormalization.DatasetScale)
            throw new NotSupportedException("Per-token normalisation cannot be folded into SAELens weights; train with the dataset scale to export.");
        Directory.CreateDirectory(directory);
        var p = sae.Parameters;
        var arch = sae.Architecture;
        int d = arch.Dim, m = arch.Neurons;
        float s = sae.InputScale;
        var wEnc = new float[(long)d * m];
        var wDec = new float[(long)m * d];
        var bEnc = new float[m];
        var threshold = new float[m];
        var bDec = new float[d];
        for (int n = 0; n < m; n++)
        {
            var u = p.EncoderRow(n);
            var w = p.DecoderRow(n);
            float a = p.Scale[n];
            for (int j = 0; j < d; j++)
            {
                wEnc[(long)j * m + n] = s * u[j];
                wDec[(long)n * d + j] = a * w[j] / s;
            }
            if (arch.Sparsity == SparsityMode.Threshold && arch.Gate == Kernels.Elementwise.GateKind.JumpRelu) threshold[n] = -p.Bias[n];
            else bEnc[n] = p.Bias[n];
            if (arch.ReluThreshold > 0) threshold[n] = arch.ReluThreshold;
        }
        for (int j = 0; j < d; j++) bDec[j] = p.PreBias[j] / s;

        bool jump = arch.Sparsity == SparsityMode.Threshold && (arch.Gate == Kernels.Elementwise.GateKind.JumpRelu || arch.ReluThreshold > 0);
        var tensors = new List<SafetensorsWriter.Tensor>
        {
            new("W_enc", [d, m], wEnc), new("b_enc", [m], bEnc), new("W_dec", [m, d], wDec), new("b_dec", [d], bDec),
        };
        if (jump) tensors.Add(new("threshold", [m], threshold));
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), tensors);

        var meta = new JsonObject();
        if (metadata != null) foreach (var (k, v) in metadata) meta[k] = v;
        var cfg = new JsonObject
        {
            ["architecture"] = arch.Sparsity == SparsityMode.TopK ? "topk" : jump ? "jumprelu" : "standard",
            ["d_in"] = d,
            ["d_sae"] = m,
            ["dtype"] = "float32",
            ["device"] = "cpu",
            ["apply_b_dec_to_input"] = true,
            ["normalize_activations"] = "none",
            ["metadata"] = meta,
            ["gba_engine"] = new JsonObject
            {
                ["format_version"] = 1,
                ["activation_scale"] = s,
                ["tied"] = arch.Tied,
                ["gate"] = arch.Gate.ToString().ToLowerInvariant(),
                ["method"] = training?.Method.ToString().ToLowerInvariant(),
                ["group_tafs"] = groups is null ? null : new JsonArray(groups.Tafs.Select(t => (JsonNode)t).ToArray()),
                ["neuron_groups"] = groups is null ? null : new JsonArray(groups.GroupOf.Select(g => (JsonNode)g).ToArray()),
            },
        };
        if (arch.Sparsity == SparsityMode.TopK) cfg["k"] = arch.K;
        var tmp = Path.Combine(directory, ConfigFile + ".tmp-" + Environment.ProcessId);
        File.WriteAllText(tmp, cfg.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, Path.Combine(directory, ConfigFile), overwrite: true);
    }
}
