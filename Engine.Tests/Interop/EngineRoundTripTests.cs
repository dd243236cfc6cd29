using GbaEngine.Inference;
using GbaEngine.Interop;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;
using GbaEngine.Training;
using GbaEngine.Encoders;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// Export then import: an SAE exported by <see cref="SaeLensExport"/> and loaded back as an
/// <see cref="SaeModel"/> encodes and decodes raw activations as the engine's own path does
/// (normalise, <see cref="BatchEncoder"/>, <see cref="SparseDecoder"/>, back to the original scale),
/// within fp32 rounding, for tied/untied × JumpReLU/ReLU/TopK and both input normalisations; feature values
/// are the engine's times the decoder norm folded out of the export (TopK: unfolded, the same values).
/// </summary>
[Trait("Category", "Kernels")]
public class EngineRoundTripTests
{
    public static TheoryData<bool, SaeActivation, SparsityMode, InputNormalization> Cases => new()
    {
        { true, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.DatasetScale },
        { false, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.DatasetScale },
        { true, SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.DatasetScale },
        { false, SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.DatasetScale },
        { true, SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.DatasetScale },
        { false, SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.DatasetScale },
        { true, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.PerToken },
        { false, SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.PerToken },
        { false, SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.PerToken },
    };

    const int D = 20, M = 48, K = 4, Rows = 300;   // 300 rows: the batch path runs two SGEMM chunks (256 + 44)
    const float Scale = 37f;

    /// <summary>A trained-looking SAE with seeded random parameters: unit decoder rows, a in [0.5, 1.5], JumpReLU biases in [−0.3, 0].</summary>
    internal static SparseAutoencoder RandomSae(bool tied, SaeActivation gate, SparsityMode sparsity, InputNormalization norm, int seed, int d = D, int m = M, int k = K)
    {
        var arch = new SaeArchitecture(d, m, tied, gate, sparsity, sparsity == SparsityMode.TopK ? k : 0);
        var p = new SaeParameters(d, m, tied);
        var rng = new Random(seed);
        double Gauss() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        for (int n = 0; n < m; n++)
        {
            var w = p.DecoderRow(n);
            for (int j = 0; j < d; j++) w[j] = (float)Gauss();
            Blas1.Scale(1f / MathF.Sqrt(Blas1.Dot(w[..d], w[..d])), w[..d]);
            if (!tied)
            {
                var u = p.EncoderRow(n);
                for (int j = 0; j < d; j++) u[j] = w[j] + 0.3f * (float)Gauss();
            }
            p.Scale[n] = 0.5f + (float)rng.NextDouble();
            p.Bias[n] = sparsity == SparsityMode.TopK ? (float)(rng.NextDouble() * 0.2 - 0.1)
                : gate == SaeActivation.JumpRelu ? -0.3f * (float)rng.NextDouble() : (float)(rng.NextDouble() * 0.4 - 0.3);
        }
        for (int j = 0; j < d; j++) p.PreBias[j] = 0.1f * (float)Gauss();
        return new SparseAutoencoder(arch, p, norm, norm == InputNormalization.DatasetScale ? Scale : 1f);
    }

    /// <summary>Raw activations whose normalised form has norm about 1 (a mean offset included, as real activations have).</summary>
    internal static float[] RawTokens(int rows, int d, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * d];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * 0.45 + (i % d == 3 ? 0.2 : 0)) / Scale;
        return x;
    }

    sealed record EngineOutput(int[][] Indices, float[][] Values, float[][] Xhat, double[][] Margin);

    /// <summary>
    /// The factor between the engine's code value h and the exported feature value: the exported decoder row's
    /// norm before folding, ‖a_m·w_m·g‖ with g = 1/s (or √d per token); 1 for TopK, whose norms are not folded.
    /// </summary>
    internal static double[] FoldedFeatureScale(SparseAutoencoder sae)
    {
        var p = sae.Parameters;
        int d = sae.Dim;
        double g = sae.Normalization == InputNormalization.PerToken ? Math.Sqrt(d) : 1.0 / sae.InputScale;
        return Enumerable.Range(0, sae.Neurons).Select(n =>
        {
            if (sae.Architecture.Sparsity == SparsityMode.TopK) return 1.0;
            var w = p.DecoderRow(n);
            double n2 = 0;
            for (int j = 0; j < d; j++) n2 += (double)w[j] * w[j];
            return Math.Abs(p.Scale[n]) * Math.Sqrt(n2) * g;
        }).ToArray();
    }

    /// <summary>The engine's own path (values mapped to the export's by <see cref="FoldedFeatureScale"/>), plus each
    /// neuron's distance (in double) from its gate decision so a rare rounding flip can be told from a bug.</summary>
    static EngineOutput Engine(SparseAutoencoder sae, float[] raw, int rows)
    {
        var p = sae.Parameters;
        int d = sae.Dim, m = sae.Neurons, stride = p.Stride;
        var folded = FoldedFeatureScale(sae);
        var (x, factors, code) = EnginePath.Encode(sae, raw, rows);
        var result = new EngineOutput(new int[rows][], new float[rows][], new float[rows][], new double[rows][]);
        for (int t = 0; t < rows; t++)
        {
            result.Indices[t] = code.Indices(t).ToArray();
            result.Values[t] = code.Values(t).ToArray();
            for (int r = 0; r < result.Values[t].Length; r++) result.Values[t][r] = (float)(result.Values[t][r] * folded[result.Indices[t][r]]);
            result.Xhat[t] = EnginePath.RawReconstruction(sae, code, factors, t);
            var y = new double[m];
            for (int n = 0; n < m; n++)
            {
                double z = 0;
                var u = p.EncoderRow(n);
                for (int j = 0; j < d; j++) z += (double)u[j] * (x.Span[t * stride + j] - p.PreBias[j]);
                y[n] = z + p.Bias[n];
            }
            double boundary = 0;
            if (sae.Architecture.Sparsity == SparsityMode.TopK)
            {
                var sorted = y.Where(v => v > 0).OrderDescending().ToArray();
                if (sorted.Length > sae.Architecture.K) boundary = 0.5 * (sorted[sae.Architecture.K - 1] + sorted[sae.Architecture.K]);
            }
            result.Margin[t] = y.Select(v => Math.Abs(v - boundary)).ToArray();
        }
        return result;
    }

    static void AssertMatchesEngine(EngineOutput engine, int token, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, float[]? xhat, string what)
    {
        var mine = indices.ToArray();
        var flips = mine.Except(engine.Indices[token]).Concat(engine.Indices[token].Except(mine)).ToArray();
        foreach (int n in flips)
            Assert.True(engine.Margin[token][n] < 1e-5, $"{what} token {token}: neuron {n} differs from the engine at margin {engine.Margin[token][n]}");
        for (int r = 0; r < mine.Length; r++)
        {
            int e = Array.IndexOf(engine.Indices[token], mine[r]);
            if (e < 0) continue;
            float h = engine.Values[token][e];
            Assert.True(Math.Abs(values[r] - h) <= 1e-4 * (1 + Math.Abs(h)), $"{what} token {token} neuron {mine[r]}: {values[r]} vs engine {h}");
        }
        if (xhat is null || flips.Length > 0) return;
        double norm = engine.Xhat[token].Max(Math.Abs);
        for (int j = 0; j < xhat.Length; j++)
            Assert.True(Math.Abs(xhat[j] - engine.Xhat[token][j]) <= 1e-4 * (norm + 1e-3), $"{what} token {token} dim {j}: {xhat[j]} vs engine {engine.Xhat[token][j]}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExportedThenImportedSaeEncodesAndDecodesLikeTheEngine(bool tied, SaeActivation gate, SparsityMode sparsity, InputNormalization norm)
    {
        var sae = RandomSae(tied, gate, sparsity, norm, seed: 11);
        var raw = RawTokens(Rows, D, seed: 12);
        var engine = Engine(sae, raw, Rows);
        Assert.InRange(engine.Indices.Average(i => i.Length), 1, M - 1);    // a real mix of active and inactive neurons

        var dir = Path.Combine(Path.GetTempPath(), "gba-roundtrip-" + Guid.NewGuid().ToString("N"));
        try
        {
            SaeLensExport.Write(dir, sae);
            var model = SaeModel.Load(dir);
            Assert.Equal(SaeLayout.GbaEngine, model.Layout);
            Assert.Equal((D, M), (model.Dim, model.Features));
            Assert.Equal(norm == InputNormalization.PerToken ? InputNormalization.PerToken : InputNormalization.None, model.Normalization);

            var batch = model.EncodeBatch(raw, Rows);
            var decoded = new float[Rows * D];
            model.DecodeBatch(batch, decoded);
            for (int t = 0; t < Rows; t++)
                AssertMatchesEngine(engine, t, batch.Indices(t), batch.Values(t), decoded.AsSpan(t * D, D).ToArray(), "batch");
            for (int t = 0; t < Rows; t += 7)
            {
                var f = model.Encode(raw.AsSpan(t * D, D));
                AssertMatchesEngine(engine, t, f.Indices, f.Values, model.Decode(f), "single");
            }

            // The in-memory conversion is the export without the files: bit for bit the same model.
            var direct = SaeModel.FromAutoencoder(sae);
            var again = direct.EncodeBatch(raw, Rows);
            Assert.Equal(batch.RowStarts.ToArray(), again.RowStarts.ToArray());
            Assert.Equal(batch.AllIndices.ToArray(), again.AllIndices.ToArray());
            Assert.Equal(batch.AllValues.ToArray(), again.AllValues.ToArray());
            var decodedAgain = new float[Rows * D];
            direct.DecodeBatch(again, decodedAgain);
            Assert.Equal(decoded, decodedAgain);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }
}
