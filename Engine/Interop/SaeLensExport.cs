using System.Text.Json.Nodes;
using GbaEngine.Inference;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;
using GbaEngine.Formats;

namespace GbaEngine.Interop;

/// <summary>
/// Exports an SAE in the SAELens layout (spec/formats.md): a directory with cfg.json and
/// sae_weights.safetensors holding W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
/// and, for JumpReLU, threshold [d_sae]; SAELens' <c>SAE.load_from_disk</c> reads it as is.
/// Input normalisation is folded into the weights:
/// <list type="bullet">
/// <item>dataset scale s (x̃ = s·x): z = s·u·(x − b_pre/s), hence W_enc = s·u, b_dec = b_pre/s, and since
/// the output f = a·h lives in the scaled space, W_dec rows = a_m·w_m / s; normalize_activations "none".</item>
/// <item>per-token unit norm (x̃ = x/‖x‖): SAELens' "constant_norm_rescale" feeds x' = √d·x̃, so
/// W_enc = u/√d, b_dec = √d·b_pre, W_dec rows = √d·a_m·w_m (its output step divides by √d/‖x‖).</item>
/// </list>
/// JumpReLU: b_enc = 0 and threshold = −b, so SAELens' f = z·1[z &gt; threshold] reproduces 1[z + b &gt; 0]
/// exactly (b ≤ 0 for GBA and BA, so the threshold is never negative). ReLU ("standard") and TopK
/// ("topk", with k) keep b as b_enc. A ReLU with a firing threshold θ (BatchTopK's inference form,
/// h = y·1[y &gt; θ]) is "jumprelu" with b_enc = b and threshold = θ on every neuron, so SAELens'
/// pre-activation is y itself. Our extras (method, groups, TAFs, scale) go under cfg.json's
/// "gba_engine" key, which SAELens ignores.
/// </summary>
public static class SaeLensExport
{
    /// <summary>File names of the SAELens layout.</summary>
    public const string WeightsFile = "sae_weights.safetensors", ConfigFile = "cfg.json";

    /// <summary>Maps the GBA parameterisation to SAELens tensors (see the class summary for the algebra).</summary>
    internal static SaeWeights Tensors(SparseAutoencoder sae)
    {
        var p = sae.Parameters;
        var arch = sae.Architecture;
        int d = arch.Dim, m = arch.Neurons;
        bool perToken = sae.Normalization == InputNormalization.PerToken;
        // encode factor ge, decode factor gd: W_enc = ge·u, W_dec = gd·a·w, b_dec = gd·b_pre.
        float ge = perToken ? 1f / MathF.Sqrt(d) : sae.InputScale;
        float rootD = MathF.Sqrt(d);
        bool jump = arch.Sparsity == SparsityMode.Threshold && arch.Gate == SaeActivation.JumpRelu;
        bool reluThreshold = arch.ReluThreshold > 0;
        var wEnc = new float[(long)m * d];
        var wDec = new float[(long)m * d];
        var bEnc = new float[m];
        var threshold = jump || reluThreshold ? new float[m] : null;
        var bDec = new float[d];
        for (int n = 0; n < m; n++)
        {
            var u = p.EncoderRow(n);
            var w = p.DecoderRow(n);
            float a = p.Scale[n];
            for (int j = 0; j < d; j++)
            {
                wEnc[(long)n * d + j] = ge * u[j];
                wDec[(long)n * d + j] = perToken ? rootD * a * w[j] : a * w[j] / sae.InputScale;
            }
            if (jump) threshold![n] = -p.Bias[n];
            else bEnc[n] = p.Bias[n];
            if (reluThreshold) threshold![n] = arch.ReluThreshold;
        }
        for (int j = 0; j < d; j++) bDec[j] = perToken ? rootD * p.PreBias[j] : p.PreBias[j] / sae.InputScale;
        var activation = arch.Sparsity == SparsityMode.TopK ? SaeActivation.TopK : jump || reluThreshold ? SaeActivation.JumpRelu : SaeActivation.Relu;
        return new SaeWeights(d, m, wEnc, bEnc, wDec, bDec, activation, threshold ?? [], arch.Sparsity == SparsityMode.TopK ? arch.K : 0,
            ApplyDecoderBiasToInput: true, perToken ? InputNormalization.PerToken : InputNormalization.None);
    }

    /// <summary>SAELens' architecture name for an activation.</summary>
    public static string ArchitectureName(SaeActivation a) => a switch
    {
        SaeActivation.TopK => "topk",
        SaeActivation.JumpRelu => "jumprelu",
        _ => "standard",
    };

    /// <summary>SAELens' normalize_activations value.</summary>
    public static string NormalizationName(InputNormalization n) => n switch
    {
        InputNormalization.PerToken => "constant_norm_rescale",
        InputNormalization.LayerNorm => "layer_norm",
        _ => "none",
    };

    /// <summary>Metadata keys SAELens' pre-6.0 config reader takes from the top level of cfg.json.</summary>
    static readonly string[] TopLevelMetadata = ["model_name", "hook_name", "hook_head_index", "model_class_name", "context_size", "dataset_path", "prepend_bos"];

    /// <summary>Writes directory/cfg.json and directory/sae_weights.safetensors (each written to a temporary file and renamed).</summary>
    /// <param name="method">The training method, recorded in cfg.json's "gba_engine" block.</param>
    /// <param name="groups">GBA's neuron groups and their target frequencies, recorded there too.</param>
    /// <param name="metadata">Goes into cfg.json's "metadata" (SAELens keeps model_name, hook_name, ... there).</param>
    public static void Write(string directory, SparseAutoencoder sae, string? method = null, NeuronGroups? groups = null,
        IReadOnlyDictionary<string, string?>? metadata = null)
    {
        Directory.CreateDirectory(directory);
        var t = Tensors(sae);
        int d = t.Dim, m = t.Features;
        var wEncT = new float[(long)d * m];   // SAELens keeps W_enc as [d_in, d_sae]
        for (int n = 0; n < m; n++)
            for (int j = 0; j < d; j++) wEncT[(long)j * m + n] = t.Encoder[(long)n * d + j];
        var tensors = new List<SafetensorsWriter.Tensor>
        {
            new("W_enc", [d, m], wEncT), new("b_enc", [m], t.EncoderBias), new("W_dec", [m, d], t.Decoder), new("b_dec", [d], t.DecoderBias),
        };
        if (t.Threshold.Length > 0) tensors.Add(new("threshold", [m], t.Threshold));
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), tensors);

        var meta = new JsonObject();
        if (metadata != null) foreach (var (k, v) in metadata) if (v is not null) meta[k] = v;
        var arch = sae.Architecture;
        var cfg = new JsonObject
        {
            // "mp" has no SAELens class: the weights are the dictionary (W_dec rows, renormalised, are
            // the atoms) and mp_steps the trained T; loaders that do not know MP refuse it by name.
            ["architecture"] = arch.Sparsity == SparsityMode.MatchingPursuit ? "mp" : ArchitectureName(t.Activation),
            ["d_in"] = d,
            ["d_sae"] = m,
            ["dtype"] = "float32",
            ["device"] = "cpu",
            ["apply_b_dec_to_input"] = true,
            ["normalize_activations"] = NormalizationName(t.Normalization),
            ["reshape_activations"] = "none",
            ["metadata"] = meta,
            ["gba_engine"] = new JsonObject
            {
                ["format_version"] = 1,
                ["normalization"] = sae.Normalization == InputNormalization.PerToken ? "per_token" : "dataset_scale",
                ["activation_scale"] = sae.Normalization == InputNormalization.PerToken ? null : sae.InputScale,
                ["tied"] = arch.Tied,
                ["gate"] = arch.Gate.ToString().ToLowerInvariant(),
                ["method"] = method,
                ["group_tafs"] = groups is null ? null : new JsonArray(groups.Tafs.Select(x => (JsonNode)x).ToArray()),
                ["neuron_groups"] = groups is null ? null : new JsonArray(groups.GroupOf.Select(g => (JsonNode)g).ToArray()),
            },
        };
        if (arch.Sparsity == SparsityMode.MatchingPursuit) cfg["mp_steps"] = arch.K;
        // Without a sae_lens_version SAELens 6 reads the config as pre-6.0 and rebuilds "metadata" from
        // top-level keys, so the model and hook names it knows are written at both places.
        foreach (var key in TopLevelMetadata)
            if (meta[key] is { } value) cfg[key] = value.DeepClone();
        if (t.Activation == SaeActivation.TopK)
        {
            cfg["k"] = t.K;
            // Written out because SAELens' training config defaults it to true; our k is chosen on raw pre-activations.
            cfg["rescale_acts_by_decoder_norm"] = false;
        }
        var tmp = Path.Combine(directory, ConfigFile + ".tmp-" + Environment.ProcessId);
        File.WriteAllText(tmp, cfg.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        File.Move(tmp, Path.Combine(directory, ConfigFile), overwrite: true);
    }
}
