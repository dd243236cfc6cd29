using System.Text.Json;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;
using GbaEngine.Formats;

namespace GbaEngine.Interop;

/// <summary>
/// Reads back an MP-SAE this engine exported: SAELens' "matching_pursuit" layout (W_dec rows are the unit
/// atoms, max_iterations the trained step count T) or the earlier "mp" layout (W_dec rows a·w/s with a ≡ 1,
/// or √d·w per token, and "mp_steps"), which no one-pass inference model can run. The atoms are the W_dec
/// rows renormalised, b_pre = s·b_dec (or b_dec/√d), and the dataset scale s comes from the "gba_engine"
/// block. The result runs through <see cref="Encoders.MatchingPursuitEncoder"/> with any number of steps.
/// </summary>
public static class MatchingPursuitImport
{
    /// <summary>The architecture name of exports before the SAELens layout (cfg.json format_version 1).</summary>
    const string LegacyArchitecture = "mp";

    /// <summary>Whether <paramref name="path"/> (an SAE or run directory, see <see cref="SaeDirectory"/>) holds an MP-SAE.</summary>
    public static bool IsMatchingPursuit(string path)
    {
        var (layout, directory) = SaeDirectory.Detect(path);
        if (layout != SaeLayout.GbaEngine) return false;
        var cfg = SaeConfigFile.Read(Path.Combine(directory, SaeLensExport.ConfigFile), "");
        return cfg.String("architecture") is SaeLensExport.MatchingPursuitArchitecture or LegacyArchitecture;
    }

    /// <summary>Loads the MP-SAE at <paramref name="path"/> as a trained model with its trained step count.</summary>
    /// <param name="kernels">The kernel set the model runs on (default: <see cref="Kernels.KernelSelector.Current"/>).</param>
    public static SparseAutoencoder Read(string path, Kernels.KernelSet? kernels = null)
    {
        var (_, directory) = SaeDirectory.Detect(path);
        var cfg = SaeConfigFile.Read(Path.Combine(directory, SaeLensExport.ConfigFile), $"an MP-SAE directory needs it next to {SaeLensExport.WeightsFile}");
        string? architecture = cfg.String("architecture");
        if (architecture is not (SaeLensExport.MatchingPursuitArchitecture or LegacyArchitecture))
            throw SaeFormatErrors.Create(cfg.Path, $"architecture '{architecture}' is not a matching-pursuit SAE (expected \"{SaeLensExport.MatchingPursuitArchitecture}\").");
        int d = cfg.PositiveInt("d_in"), m = cfg.PositiveInt("d_sae");
        int steps = cfg.PositiveInt(architecture == LegacyArchitecture ? "mp_steps" : "max_iterations");
        bool perToken = cfg.String("normalize_activations") == "constant_norm_rescale";
        float scale = 1f;
        if (!perToken)
        {
            if (cfg.Get("gba_engine") is not { ValueKind: JsonValueKind.Object } engine || !engine.TryGetProperty("activation_scale", out var s)
                || s.ValueKind != JsonValueKind.Number || !(s.GetDouble() > 0) || !double.IsFinite(s.GetDouble()))
                throw SaeFormatErrors.Create(cfg.Path, "an MP-SAE export needs gba_engine.activation_scale, a positive number.");
            scale = (float)s.GetDouble();
        }

        using var st = SafetensorsReader.Open(Path.Combine(directory, SaeLensExport.WeightsFile));
        var wDec = st.Read("W_dec", [m, d], "d_sae, d_in");
        var bDec = st.Read("b_dec", [d], "d_in");
        var arch = new SaeArchitecture(d, m, true, SaeActivation.Relu, SparsityMode.MatchingPursuit, steps);
        var p = new SaeParameters(d, m, tied: true);
        for (int n = 0; n < m; n++)
        {
            var row = p.DecoderRow(n)[..d];
            wDec.AsSpan(n * d, d).CopyTo(row);
            float n2 = Blas1Reference.Dot(row, row);
            if (!(n2 > 0) || !float.IsFinite(n2)) throw SaeFormatErrors.Create(st.Path, $"W_dec row {n} is zero or not finite: it is no dictionary atom.");
            Blas1Reference.Scale(1f / MathF.Sqrt(n2), row);
        }
        float toPre = perToken ? 1f / MathF.Sqrt(d) : scale;
        for (int j = 0; j < d; j++) p.PreBias[j] = bDec[j] * toPre;
        p.Scale.Fill(1f);
        return new SparseAutoencoder(arch, p, perToken ? InputNormalization.PerToken : InputNormalization.DatasetScale, scale, kernels);
    }
}
