using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Threading;
using GbaEngine.Training;
using GbaEngine.Encoders;
using GbaEngine.Rng;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training;

/// <summary>
/// Gradients two ways: the float64 reference against central finite differences (every parameter),
/// and the engine's sparse float32 backward against the float64 reference.
/// </summary>
[Trait("Category", "Kernels")]
public class GradientTests
{
    public static TheoryData<bool, SaeActivation, int> Forms() => new()
    {
        { true, SaeActivation.JumpRelu, 0 }, { false, SaeActivation.JumpRelu, 0 },
        { true, SaeActivation.Relu, 0 }, { false, SaeActivation.Relu, 0 },
        { true, SaeActivation.Relu, 2 }, { false, SaeActivation.Relu, 2 },
    };

    const int D = 5, M = 7, N = 6;

    /// <summary>Random parameters and inputs whose pre-activations all keep a margin from 0, so the
    /// active set cannot change under a 1e-6 perturbation and finite differences are exact derivatives.</summary>
    static (SaeArchitecture Arch, SaeParameters P, float[] X) Problem(bool tied, SaeActivation gate, int topK, ulong seed)
    {
        var arch = new SaeArchitecture(D, M, tied, topK > 0 ? SaeActivation.Relu : gate, topK > 0 ? SparsityMode.TopK : SparsityMode.Threshold, topK);
        for (ulong attempt = 0; ; attempt++)
        {
            var rng = new Xoshiro256(seed * 1000 + attempt);
            var p = new SaeParameters(D, M, tied);
            for (int m = 0; m < M; m++)
                for (int j = 0; j < D; j++)
                {
                    p.DecoderRow(m)[j] = (float)rng.NextGaussian();
                    if (!tied) p.EncoderRow(m)[j] = (float)rng.NextGaussian();
                }
            for (int m = 0; m < M; m++) { p.Scale[m] = (float)(0.5 + rng.NextDouble()); p.Bias[m] = (float)(-0.5 * rng.NextDouble()); }
            for (int j = 0; j < D; j++) p.PreBias[j] = (float)(0.2 * rng.NextGaussian());
            var x = new float[N * D];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextGaussian();
            var r = ReferenceSae.From(arch, p);
            var (_, y) = r.PreActivations(ToDouble(x), N);
            bool margin = y.All(v => Math.Abs(v) > 1e-3);
            if (topK > 0)
            {
                // Also keep a margin between the k-th and (k+1)-th largest, so the selection is stable.
                for (int t = 0; t < N && margin; t++)
                {
                    var row = y.Skip(t * M).Take(M).OrderByDescending(v => v).ToArray();
                    margin = row[topK - 1] - row[topK] > 1e-3;
                }
            }
            if (margin) return (arch, p, x);
        }
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void ReferenceGradientMatchesFiniteDifferences(bool tied, SaeActivation gate, int topK)
    {
        var (arch, p, xf) = Problem(tied, gate, topK, 7);
        var r = ReferenceSae.From(arch, p);
        var x = ToDouble(xf);
        CheckEveryParameter(r, r.Gradient(x, N), () => r.Loss(x, N), tied);
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void SparseBackwardMatchesFloat64Reference(bool tied, SaeActivation gate, int topK)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var (arch, p, xf) = Problem(tied, gate, topK, 11);
            var r = ReferenceSae.From(arch, p);
            var g = r.Gradient(ToDouble(xf), N);
            double loss = r.Loss(ToDouble(xf), N);

            using var step = new EngineStep(arch, p, xf, N, threads);
            step.Encode(new FiringStatistics(M));
            double fastLoss = step.Backpropagate();

            Assert.Equal(loss, fastLoss, 1e-4 * (1 + loss));
            AssertGradient(g, step.Grad, tied);
        }
    }

    /// <summary>Permutes each token's (neuron, value) entries.</summary>
    static void Shuffle(SparseCode code, int seed)
    {
        var rng = new Random(seed);
        for (int t = 0; t < code.Tokens; t++)
            for (int r = code.RowStart[t + 1] - 1; r > code.RowStart[t]; r--)
            {
                int q = rng.Next(code.RowStart[t], r + 1);
                (code.Index[r], code.Index[q]) = (code.Index[q], code.Index[r]);
                (code.H[r], code.H[q]) = (code.H[q], code.H[r]);
            }
    }

    /// <summary>
    /// The blocked passes on a problem with many blocks per thread: any block size (down to one
    /// neuron) gives bitwise the same loss and gradients as the default, and so do 1, 2 or 3 threads
    /// for every gradient but b_pre's and the loss (those add per-thread partial sums), for sorted
    /// codes as the encoder emits them and codes Decode has to sort (shuffled).
    /// </summary>
    [Theory]
    [InlineData(true, SaeActivation.JumpRelu, 0)]
    [InlineData(false, SaeActivation.Relu, 0)]
    [InlineData(true, SaeActivation.Relu, 5)]
    [InlineData(false, SaeActivation.Relu, 5)]
    public void BlockSizeAndThreadCountDoNotChangeABit(bool tied, SaeActivation gate, int topK)
    {
        const int d = 37, m = 90, n = 41;
        var arch = new SaeArchitecture(d, m, tied, gate, topK > 0 ? SparsityMode.TopK : SparsityMode.Threshold, topK);
        var rng = new Xoshiro256(5);
        var p = new SaeParameters(d, m, tied);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < d; j++)
            {
                p.DecoderRow(i)[j] = (float)(0.3 * rng.NextGaussian());
                if (!tied) p.EncoderRow(i)[j] = (float)(0.3 * rng.NextGaussian());
            }
        for (int i = 0; i < m; i++) { p.Scale[i] = (float)(0.5 + rng.NextDouble()); p.Bias[i] = (float)(-0.3 * rng.NextDouble()); }
        for (int j = 0; j < d; j++) p.PreBias[j] = (float)(0.2 * rng.NextGaussian());
        var x = new AlignedArray((long)n * p.Stride);
        for (int t = 0; t < n; t++)
            for (int j = 0; j < d; j++) x.Span[t * p.Stride + j] = (float)rng.NextGaussian();

        float[]? firstThreads = null;    // without b_pre
        foreach (int threads in new[] { 1, 2, 3 })
        {
            (double Loss, float[] Grad)? sameThreads = null;
            foreach (int block in new[] { 0, 1, 7, 16 })
            {
                using var pool = new WorkerPool(threads);
                using var enc = new BatchEncoder(arch, p, n, pool);
                using var back = block == 0 ? new SparseBackward(arch, p, n, pool) : new SparseBackward(arch, p, n, pool, block);
                var code = new SparseCode();
                enc.Encode(x, n, code, new FiringStatistics(m));
                Assert.True(code.Count > 3 * n, $"only {code.Count} active entries");
                if (block == 7) Shuffle(code, threads);   // Decode must restore each token's neuron order
                double loss = back.Decode(x, n, code);
                var grad = p.CloneShape();
                back.Gradients(enc.Xc, n, code, grad);
                var flat = grad.Data.Span.ToArray();
                sameThreads ??= (loss, flat);
                Assert.True(loss == sameThreads.Value.Loss, $"{threads} threads, block {block}: loss {loss} vs {sameThreads.Value.Loss}");
                Assert.True(GbaEngine.Tests.Kernels.KernelTestData.SameBits(flat, sameThreads.Value.Grad), $"{threads} threads, block {block}: gradients differ");
                grad.PreBias.Clear();
                flat = grad.Data.Span.ToArray();
                firstThreads ??= flat;
                Assert.True(GbaEngine.Tests.Kernels.KernelTestData.SameBits(flat, firstThreads), $"{threads} threads, block {block}: gradients other than b_pre's differ from 1 thread's");
            }
        }
    }
}
