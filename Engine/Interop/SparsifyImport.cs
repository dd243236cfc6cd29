using GbaEngine.Inference;
using GbaEngine.Formats;
using GbaEngine.Model;

namespace GbaEngine.Interop;

/// <summary>
/// Reads one EleutherAI sparsify hookpoint directory (cfg.json + sae.safetensors) into an
/// <see cref="Inference.SaeModel"/>: pre = encoder.weight·(x − b_dec) + encoder.bias, the k largest relu(pre)
/// kept, x̂ = W_decᵀ f + b_dec. cfg.json holds d_in, k, num_latents (0 = d_in × expansion_factor)
/// and the switches; transcoders, skip connections and groupmax activations are not autoencoders
/// this model can run, so they are refused by name.
/// </summary>
internal static class SparsifyImport
{
    public const string WeightsFile = "sae.safetensors";

    public static SaeWeights Read(string directory)
    {
        var cfg = SaeConfigFile.Read(Path.Combine(directory, SaeLensExport.ConfigFile), $"a sparsify directory needs it next to {WeightsFile}");
        int d = cfg.PositiveInt("d_in");
        int latents = cfg.NonNegativeInt("num_latents", 0);
        int m = latents > 0 ? latents : checked(d * cfg.PositiveInt("expansion_factor", 32));
        int k = cfg.PositiveInt("k", 32);
        if (k > m) throw SaeFormatErrors.Create(cfg.Path, $"field 'k' is {k}: expected at most the {m} latents.");
        string activation = cfg.String("activation") ?? "topk";
        if (activation != "topk")
            throw SaeFormatErrors.Create(cfg.Path, $"activation '{activation}' is not supported: expected topk.");
        foreach (var flag in new[] { "transcode", "skip_connection", "embed_skip", "gram_lookup" })
            if (cfg.Bool(flag, false))
                throw SaeFormatErrors.Create(cfg.Path, $"'{flag}' is true: only plain sparse autoencoders (no transcoders, skip connections or lookups) are supported.");

        using var st = SafetensorsReader.Open(Path.Combine(directory, WeightsFile));
        var wEnc = st.Read("encoder.weight", [m, d], "num_latents, d_in");
        var bEnc = st.Read("encoder.bias", [m], "num_latents");
        var wDec = st.Read("W_dec", [m, d], "num_latents, d_in");
        var bDec = st.Read("b_dec", [d], "d_in");
        return new SaeWeights(d, m, wEnc, bEnc, wDec, bDec, SaeActivation.TopK, [], k, ApplyDecoderBiasToInput: true,
            InputNormalization.None, SaeLayout.Sparsify, directory);
    }
}
