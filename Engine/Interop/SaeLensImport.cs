using System.Text.Json;
using GbaEngine.Inference;
using GbaEngine.Formats;
using GbaEngine.Model;

namespace GbaEngine.Interop;

/// <summary>
/// Reads an SAELens directory (cfg.json + sae_weights.safetensors, this engine's export included)
/// into an <see cref="Inference.SaeModel"/> that computes what SAELens' inference classes compute:
/// <list type="bullet">
/// <item>"standard": relu((x' − b_dec·apply_b_dec_to_input) W_enc + b_enc); pre-6.0 configs with
/// activation_fn "topk" and activation_fn_kwargs.k are TopK.</item>
/// <item>"jumprelu": relu(pre)·1[pre &gt; relu(threshold)] (θ is clamped at 0 as SAELens 6 does; a
/// log_threshold tensor from older checkpoints is exponentiated).</item>
/// <item>"topk": the k largest pre (then relu); rescale_acts_by_decoder_norm is folded into the
/// weights (pre·‖W_dec,m‖ selects, the decoder divides by ‖W_dec,m‖), which gives the same features.</item>
/// </list>
/// normalize_activations "constant_norm_rescale" and "layer_norm" run per token as in SAELens;
/// "none" and "expected_average_only_in" are the identity (SAELens' load_from_disk does not apply
/// the latter either: its factor is not stored in the directory). A finetuning scaling factor tensor
/// (older checkpoints) multiplies the features before the decoder, so it is folded into W_dec.
/// </summary>
internal static class SaeLensImport
{
    public static SaeWeights Read(string directory)
    {
        var cfg = SaeConfigFile.Read(Path.Combine(directory, SaeLensExport.ConfigFile), $"an SAELens directory needs it next to {SaeLensExport.WeightsFile}");
        int d = cfg.PositiveInt("d_in"), m = cfg.PositiveInt("d_sae");
        string architecture = cfg.String("architecture") ?? "standard";
        string activationFn = cfg.String("activation_fn") ?? cfg.String("activation_fn_str") ?? "relu";
        var activation = architecture switch
        {
            "standard" when activationFn == "topk" => SaeActivation.TopK,
            "standard" when activationFn == "relu" => SaeActivation.Relu,
            "standard" => throw SaeFormatErrors.Create(cfg.Path, $"activation_fn '{activationFn}' is not supported for the standard architecture: expected relu or topk."),
            "jumprelu" => SaeActivation.JumpRelu,
            "topk" => SaeActivation.TopK,
            SaeLensExport.MatchingPursuitArchitecture or "mp" => throw SaeFormatErrors.Create(cfg.Path,
                "a matching-pursuit SAE has no one-pass encoder: this engine's own MP exports load with MatchingPursuitImport (gba eval and gba encode do so); " +
                "MP-SAEs trained elsewhere are not supported."),
            _ => throw SaeFormatErrors.Create(cfg.Path, $"architecture '{architecture}' is not supported: expected standard, jumprelu or topk."),
        };
        int k = activation == SaeActivation.TopK ? TopKFromConfig(cfg, m) : 0;
        bool applyBDec = cfg.Bool("apply_b_dec_to_input", true);
        var normalization = Normalization(cfg);
        bool rescaleByDecoderNorm = activation == SaeActivation.TopK && cfg.Bool("rescale_acts_by_decoder_norm", false);

        var weights = Path.Combine(directory, SaeLensExport.WeightsFile);
        using var st = SafetensorsReader.Open(weights);
        var wEncT = st.Read("W_enc", [d, m], "d_in, d_sae");
        var bEnc = st.Read("b_enc", [m], "d_sae");
        var wDec = st.Read("W_dec", [m, d], "d_sae, d_in");
        var bDec = st.Read("b_dec", [d], "d_in");
        float[] threshold = [];
        if (activation == SaeActivation.JumpRelu)
        {
            if (st.Contains("log_threshold") && !st.Contains("threshold")) threshold = st.Read("log_threshold", [m], "d_sae").Select(MathF.Exp).ToArray();
            else threshold = st.Read("threshold", [m], "d_sae", "a jumprelu SAE needs its thresholds");
            for (int i = 0; i < m; i++) threshold[i] = Math.Max(threshold[i], 0f);
        }
        foreach (var name in new[] { "finetuning_scaling_factor", "scaling_factor" })
            if (st.Contains(name))
            {
                var factor = st.Read(name, [m], "d_sae");
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < d; j++) wDec[(long)i * d + j] *= factor[i];
            }

        var wEnc = new float[(long)m * d];     // [d_in, d_sae] → rows per feature
        for (int j = 0; j < d; j++)
            for (int i = 0; i < m; i++) wEnc[(long)i * d + j] = wEncT[(long)j * m + i];
        if (rescaleByDecoderNorm) FoldDecoderNorm(wEnc, bEnc, wDec, d, m);

        var layout = cfg.Has("gba_engine") ? SaeLayout.GbaEngine : SaeLayout.SaeLens;
        return new SaeWeights(d, m, wEnc, bEnc, wDec, bDec, activation, threshold, k, applyBDec, normalization, layout, directory);
    }

    static int TopKFromConfig(SaeConfigFile cfg, int m)
    {
        int k;
        if (cfg.Has("k")) k = cfg.PositiveInt("k");
        else if (cfg.Get("activation_fn_kwargs") is { ValueKind: JsonValueKind.Object } kw && kw.TryGetProperty("k", out var kv)
                 && kv.ValueKind == JsonValueKind.Number && kv.TryGetInt32(out int parsed) && parsed > 0) k = parsed;
        else throw SaeFormatErrors.Create(cfg.Path, "a topk SAE needs 'k' (or activation_fn_kwargs.k): field is missing.");
        if (k > m) throw SaeFormatErrors.Create(cfg.Path, $"field 'k' is {k}: expected at most d_sae = {m}.");
        return k;
    }

    static InputNormalization Normalization(SaeConfigFile cfg)
    {
        if (cfg.Get("normalize_activations") is not { } v) return InputNormalization.None;
        // Pre-6.0 configs used a bool: true meant "expected_average_only_in".
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return InputNormalization.None;
        return cfg.String("normalize_activations") switch
        {
            "none" or "expected_average_only_in" => InputNormalization.None,
            "constant_norm_rescale" => InputNormalization.PerToken,
            "layer_norm" => InputNormalization.LayerNorm,
            var other => throw SaeFormatErrors.Create(cfg.Path,
                $"normalize_activations '{other}' is not supported: expected none, expected_average_only_in, constant_norm_rescale or layer_norm."),
        };
    }

    /// <summary>rescale_acts_by_decoder_norm: pre_m·n_m selects and f_m/n_m decodes, n_m = ‖W_dec,m‖; fold n into W_enc, b_enc and W_dec.</summary>
    static void FoldDecoderNorm(float[] wEnc, float[] bEnc, float[] wDec, int d, int m)
    {
        for (int i = 0; i < m; i++)
        {
            double n2 = 0;
            for (int j = 0; j < d; j++) n2 += (double)wDec[(long)i * d + j] * wDec[(long)i * d + j];
            float norm = (float)Math.Sqrt(n2);
            if (norm == 0) continue;    // a zero decoder row never contributes; leave the feature as is
            for (int j = 0; j < d; j++)
            {
                wEnc[(long)i * d + j] *= norm;
                wDec[(long)i * d + j] /= norm;
            }
            bEnc[i] *= norm;
        }
    }
}
