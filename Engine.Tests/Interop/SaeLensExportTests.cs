using System.Text.Json;
using GbaEngine.Interop;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// The SAELens export read back by an independent safetensors parser and evaluated with SAELens'
/// own formulas on raw activations, against the engine's reconstruction.
/// </summary>
[Trait("Category", "Kernels")]
public class SaeLensExportTests
{
    [Theory]
    [InlineData(TrainingMethod.Gba, true)]
    [InlineData(TrainingMethod.Gba, false)]
    [InlineData(TrainingMethod.TopK, true)]
    public void ExportedWeightsReproduceTheEngineOnRawActivations(TrainingMethod method, bool tied)
    {
        var spec = new SyntheticSpec(Features: 40, Dim: 12, Sparsity: 2);
        var model = new SyntheticModel(spec, 3);
        var o = new TrainerOptions { Method = method, Tied = tied, Neurons = 48, BatchSize = 64, Tokens = 64 * 30, Threads = 1,
            InitTokens = 512, BufferTokens = 640, EvalEvery = 0, Groups = 2, Htf = 0.2, Ltf = 0.05, K = 3,
            Normalization = InputNormalization.DatasetScale };   // the linear export the scale is folded into
        var raw = EvaluationSet.FromStream(model.OpenStream(5), 64);
        for (int i = 0; i < raw.Tokens.Length; i++) raw.Tokens[i] *= 37f;      // an input scale far from 1
        var trainer = new SaeTrainer(o, spec.Dim);
        var scaled = new ScaledStream(model.OpenStream(1), 37f);
        var result = trainer.Train(scaled, raw);
        var sae = result.Model;

        var dir = Path.Combine(Path.GetTempPath(), "gba-export-" + Guid.NewGuid().ToString("N"));
        try
        {
            SaeLensExport.Write(dir, sae, o.Method.ToString().ToLowerInvariant(), result.Groups?.Assignment);
            var t = IndependentSafetensors.Read(Path.Combine(dir, SaeLensExport.WeightsFile));
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, SaeLensExport.ConfigFile)));
            string arch = cfg.RootElement.GetProperty("architecture").GetString()!;
            Assert.Equal(method == TrainingMethod.TopK ? "topk" : "jumprelu", arch);
            Assert.Equal([12L, 48L], t["W_enc"].Shape);
            Assert.Equal([48L, 12L], t["W_dec"].Shape);

            int d = 12, m = 48;
            var (_, factors, code) = EnginePath.Encode(sae, raw.Tokens, raw.Count);
            for (int r = 0; r < raw.Count; r++)
            {
                var xhat = EnginePath.RawReconstruction(sae, code, factors, r);
                // SAELens: z = (x − b_dec) W_enc + b_enc; jumprelu f = z·1[z > θ]; topk: top-k of relu(z); x̂ = f W_dec + b_dec.
                var xr = raw.Tokens.AsSpan(r * d, d);
                var z = new double[m];
                for (int n = 0; n < m; n++)
                {
                    double s = t["b_enc"].Data[n];
                    for (int j = 0; j < d; j++) s += (xr[j] - t["b_dec"].Data[j]) * (double)t["W_enc"].Data[j * m + n];
                    z[n] = s;
                }
                var f = new double[m];
                if (arch == "jumprelu") for (int n = 0; n < m; n++) f[n] = z[n] > t["threshold"].Data[n] ? z[n] : 0;
                else foreach (var n in Enumerable.Range(0, m).Where(n => z[n] > 0).OrderByDescending(n => z[n]).Take(3)) f[n] = z[n];
                for (int j = 0; j < d; j++)
                {
                    double v = t["b_dec"].Data[j];
                    for (int n = 0; n < m; n++) v += f[n] * t["W_dec"].Data[n * d + j];
                    double engine = xhat[j];
                    Assert.True(Math.Abs(v - engine) <= 1e-3 * (1 + Math.Abs(engine)), $"token {r} dim {j}: SAELens {v} vs engine {engine}");
                }
            }
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
