using System.Text.Json;
using GbaEngine.Interop;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// The baselines exported in the SAELens layout and evaluated with SAELens' formulas on raw activations:
/// L1 as "standard" (ReLU with b_enc = b), JumpReLU-L0 as "jumprelu" (threshold = −b), BatchTopK as
/// "jumprelu" with b_enc = b and its inference threshold on every neuron.
/// </summary>
[Trait("Category", "Kernels")]
public class BaselineExportTests
{
    [Theory]
    [InlineData(TrainingMethod.L1, "standard")]
    [InlineData(TrainingMethod.JumpReluL0, "jumprelu")]
    [InlineData(TrainingMethod.BatchTopK, "jumprelu")]
    public void ExportedBaselineReproducesTheEngineOnRawActivations(TrainingMethod method, string expectedArchitecture)
    {
        const int d = 12, m = 48;
        const float scale = 23f;
        var model = new SyntheticModel(new SyntheticSpec(Features: 40, Dim: d, Sparsity: 2), 3);
        var o = new TrainerOptions { Method = method, Tied = false, Neurons = m, BatchSize = 64, Tokens = 64 * 40, Threads = 1,
            InitTokens = 512, EvalEvery = 0, K = 3, L1Coefficient = 0.05, L0Coefficient = 0.002, SteBandwidth = 0.01,
            Normalization = InputNormalization.DatasetScale };   // the linear export the scale is folded into
        var raw = EvaluationSet.FromStream(model.OpenStream(5), 64);
        for (int i = 0; i < raw.Tokens.Length; i++) raw.Tokens[i] *= scale;
        using var trainer = new SaeTrainer(o, d);
        var sae = trainer.Train(new ScaledStream(model.OpenStream(1), scale), raw).Model;

        var dir = Path.Combine(Path.GetTempPath(), "gba-export-" + Guid.NewGuid().ToString("N"));
        try
        {
            SaeLensExport.Write(dir, sae, o.Method.ToString().ToLowerInvariant());
            var t = IndependentSafetensors.Read(Path.Combine(dir, SaeLensExport.WeightsFile)).ToDictionary(e => e.Key, e => e.Value.Data);
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, SaeLensExport.ConfigFile)));
            string arch = cfg.RootElement.GetProperty("architecture").GetString()!;
            Assert.Equal(expectedArchitecture, arch);
            if (method == TrainingMethod.BatchTopK)
            {
                // θ on every neuron and b_enc = b, each then multiplied by the folded decoder norm n_m.
                Assert.True(sae.Architecture.ReluThreshold > 0);
                var n = EngineRoundTripTests.FoldedFeatureScale(sae);
                for (int i = 0; i < m; i++)
                {
                    Assert.Equal(sae.Architecture.ReluThreshold * n[i], t["threshold"][i], 1e-5 * Math.Max(1, t["threshold"][i]));
                    Assert.Equal(sae.Parameters.Bias[i] * n[i], t["b_enc"][i], 1e-5 * Math.Max(1, Math.Abs(t["b_enc"][i])));
                }
            }

            var (_, factors, code) = EnginePath.Encode(sae, raw.Tokens, raw.Count);
            Assert.True(code.Count > 0);
            int borderline = 0;
            for (int r = 0; r < raw.Count; r++)
            {
                var xhat = EnginePath.RawReconstruction(sae, code, factors, r);
                // SAELens: pre = (x − b_dec) W_enc + b_enc; standard f = relu(pre); jumprelu f = pre·1[pre > threshold]; x̂ = f W_dec + b_dec.
                var xr = raw.Tokens.AsSpan(r * d, d);
                var f = new double[m];
                for (int n = 0; n < m; n++)
                {
                    double pre = t["b_enc"][n];
                    for (int j = 0; j < d; j++) pre += (xr[j] - t["b_dec"][j]) * (double)t["W_enc"][j * m + n];
                    double cut = arch == "jumprelu" ? t["threshold"][n] : 0;
                    f[n] = pre > cut ? pre : 0;
                    if (Math.Abs(pre - cut) < 1e-4) borderline++;
                }
                for (int j = 0; j < d; j++)
                {
                    double v = t["b_dec"][j];
                    for (int n = 0; n < m; n++) v += f[n] * t["W_dec"][n * d + j];
                    double engine = xhat[j];
                    Assert.True(Math.Abs(v - engine) <= 1e-3 * (1 + Math.Abs(engine)), $"token {r} dim {j}: SAELens {v} vs engine {engine}");
                }
            }
            Assert.Equal(0, borderline);   // no pre-activation so close to its cut that float rounding could flip it
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
