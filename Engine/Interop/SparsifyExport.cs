using System.Text.Json.Nodes;
using GbaEngine.Formats;
using GbaEngine.Model;

namespace GbaEngine.Interop;

/// <summary>
/// Exports a TopK SAE in EleutherAI sparsify's layout, one hookpoint directory: cfg.json (SparseCoderConfig's
/// fields plus d_in) and sae.safetensors with encoder.weight [num_latents, d_in], encoder.bias [num_latents],
/// W_dec [num_latents, d_in] and b_dec [d_in], the tensors <c>SparseCoder.load_from_disk</c> loads strictly.
/// sparsify computes pre = encoder.weight·(x − b_dec) + encoder.bias, keeps the k largest relu(pre) and
/// decodes x̂ = W_decᵀ f + b_dec on raw activations, so the dataset scale s is folded as for SAELens
/// (encoder.weight = s·u, b_dec = b_pre/s, W_dec rows = a_m·w_m/s) and the features are the engine's TopK
/// values. Only TopK fits (sparsify's other activation, groupmax, is not one the engine trains), and only
/// with a dataset scale: sparsify has no input normalisation, and a per-token norm is not linear in x, so
/// it cannot be folded into the weights (export such an SAE in the SAELens layout, which has
/// "constant_norm_rescale"). Decoder rows are not unit norm (normalize_decoder false), for the reason the
/// SAELens export gives for TopK.
/// </summary>
public static class SparsifyExport
{
    /// <summary>Why an SAE of this architecture and normalisation cannot be written in sparsify's layout, or null if it can.</summary>
    public static string? Unsupported(SaeArchitecture architecture, InputNormalization normalization)
    {
        if (architecture.Sparsity != SparsityMode.TopK)
            return $"sparsify runs TopK SAEs only (its activations are topk and groupmax); this SAE is {Describe(architecture)}: export it in the SAELens layout";
        if (normalization == InputNormalization.PerToken)
            return "sparsify has no input normalisation and a per-token norm cannot be folded into linear weights: " +
                   "train with a dataset scale (--normalize datasetscale) or export in the SAELens layout (constant_norm_rescale)";
        return null;
    }

    static string Describe(SaeArchitecture a) => a.Sparsity switch
    {
        SparsityMode.MatchingPursuit => "matching pursuit",
        _ => a.ReluThreshold > 0 ? "a ReLU with a firing threshold (BatchTopK's inference form)" : a.Gate == SaeActivation.JumpRelu ? "JumpReLU" : "ReLU",
    };

    /// <summary>Writes directory/cfg.json and directory/sae.safetensors (each to a temporary file, then renamed).</summary>
    /// <param name="directory">The hookpoint directory (sparsify keeps one per hookpoint, named after it).</param>
    /// <param name="method">The training method, recorded in cfg.json's "gba_engine" block (sparsify drops unknown keys).</param>
    /// <exception cref="NotSupportedException">The SAE is not TopK, or it normalises per token (see <see cref="Unsupported"/>).</exception>
    public static void Write(string directory, SparseAutoencoder sae, string? method = null)
    {
        if (Unsupported(sae.Architecture, sae.Normalization) is { } why) throw new NotSupportedException($"{directory}: cannot export in sparsify's layout: {why}.");
        var t = SaeLensExport.Tensors(sae);
        int d = t.Dim, m = t.Features;
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, SparsifyImport.WeightsFile),
        [
            new("encoder.weight", [m, d], t.Encoder), new("encoder.bias", [m], t.EncoderBias), new("W_dec", [m, d], t.Decoder), new("b_dec", [d], t.DecoderBias),
        ]);
        var cfg = new JsonObject
        {
            ["activation"] = "topk",
            ["normalize_decoder"] = false,
            ["num_latents"] = m,
            ["k"] = t.K,
            ["multi_topk"] = false,
            ["skip_connection"] = false,
            ["transcode"] = false,
            ["d_in"] = d,
            ["gba_engine"] = new JsonObject
            {
                ["format_version"] = 2,
                ["method"] = method,
                ["normalization"] = "dataset_scale",
                ["activation_scale"] = sae.InputScale,
                ["tied"] = sae.Architecture.Tied,
            },
        };
        AtomicFile.WriteAllText(Path.Combine(directory, SaeLensExport.ConfigFile), cfg.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }
}
