using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Training;

namespace GbaEngine.Tests.Training;

/// <summary>
/// Gradients two ways: the float64 reference against central finite differences (every parameter),
/// and the engine's sparse float32 backward against the float64 reference.
/// </summary>
public class GradientTests
{
    public static TheoryData<bool, GateKind, int> Forms() => new()
    {
        { true, GateKind.JumpRelu, 0 }, { false, GateKind.JumpRelu, 0 },
        { true, GateKind.Relu, 0 }, { false, GateKind.Relu, 0 },
        { true, GateKind.Relu, 2 }, { false, GateKind.Relu, 2 },
    };

    const int D = 5, M = 7, N = 6;

    /// <summary>Random parameters and inputs whose pre-activations all keep a margin from 0, so the
    /// active set cannot change under a 1e-6 perturbation and finite differences are exact derivatives.</summary>
    static (SaeArchitecture Arch, SaeParameters P, float[] X) Problem(bool tied, GateKind gate, int topK, ulong seed)
    {
        var arch = new SaeArchitecture(D, M, tied, topK > 0 ? GateKind.Relu : gate, topK > 0 ? SparsityMode.TopK : SparsityMode.Threshold, topK);
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

    static double[] ToDouble(float[] x) => x.Select(v => (double)v).ToArray();

    [Theory]
    [MemberData(nameof(Forms))]
    public void ReferenceGradientMatchesFiniteDifferences(bool tied, GateKind gate, int topK)
    {
        var (arch, p, xf) = Problem(tied, gate, topK, 7);
        var r = ReferenceSae.From(arch, p);
        var x = ToDouble(xf);
        var g = r.Gradient(x, N);
        const double h = 1e-6;

        void Check(double[] param, double[] grad, string name)
        {
            for (int i = 0; i < param.Length; i++)
            {
                double keep = param[i];
                param[i] = keep + h; double lp = r.Loss(x, N);
                param[i] = keep - h; double lm = r.Loss(x, N);
                param[i] = keep;
                double fd = (lp - lm) / (2 * h);
                Assert.True(Math.Abs(fd - grad[i]) <= 1e-6 * (1 + Math.Abs(fd)), $"{name}[{i}]: finite difference {fd} vs analytic {grad[i]}");
            }
        }
        Check(r.Dec, g.Dec, tied ? "W" : "W_dec");
        if (!tied) Check(r.Enc, g.Enc, "W_enc");
        Check(r.A, g.A, "a");
        Check(r.Pre, g.Pre, "b_pre");
        Check(r.B, g.B, "b");
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void SparseBackwardMatchesFloat64Reference(bool tied, GateKind gate, int topK)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var (arch, p, xf) = Problem(tied, gate, topK, 11);
            var r = ReferenceSae.From(arch, p);
            var g = r.Gradient(ToDouble(xf), N);
            double loss = r.Loss(ToDouble(xf), N);

            using var enc = new BatchEncoder(arch, p, N, threads);
            var back = new SparseBackward(arch, p, N, threads);
            var x = new AlignedArray((long)N * p.Stride);
            for (int t = 0; t < N; t++) xf.AsSpan(t * D, D).CopyTo(x.Span.Slice(t * p.Stride));
            var code = new SparseCode();
            enc.Encode(x, N, code, new FiringStatistics(M));
            double fastLoss = back.Decode(x, N, code);
            var grad = p.CloneShape();
            back.Gradients(enc.Xc, N, code, grad);

            Assert.Equal(loss, fastLoss, 1e-4 * (1 + loss));
            static void Near(double expected, float actual, string what) =>
                Assert.True(Math.Abs(expected - actual) <= 2e-5 * (1 + Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");
            for (int m = 0; m < M; m++)
            {
                for (int j = 0; j < D; j++)
                {
                    Near(g.Dec[m * D + j], grad.DecoderRow(m)[j], $"dec[{m},{j}]");
                    if (!tied) Near(g.Enc[m * D + j], grad.EncoderRow(m)[j], $"enc[{m},{j}]");
                }
                Near(g.A[m], grad.Scale[m], $"a[{m}]");
                Near(topK > 0 || gate == GateKind.Relu ? g.B[m] : 0, grad.Bias[m], $"b[{m}]");
            }
            for (int j = 0; j < D; j++) Near(g.Pre[j], grad.PreBias[j], $"b_pre[{j}]");
        }
    }
}
