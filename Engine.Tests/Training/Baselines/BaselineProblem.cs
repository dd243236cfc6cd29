using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Rng;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>Small random SAEs and batches for the baselines' tests, and the dense float32 pre-activations
/// the engine's encoder computes (same SGEMM, so the same bits).</summary>
internal static class BaselineProblem
{
    /// <summary>
    /// Random parameters (a of either sign when <paramref name="signedScale"/>) and inputs, redrawn until
    /// <paramref name="accept"/> holds for the float64 pre-activations y [n × M], e.g. margins that keep
    /// active sets fixed under finite-difference perturbations.
    /// </summary>
    public static (SaeParameters P, float[] X) Draw(SaeArchitecture arch, int n, ulong seed, Func<double[], bool> accept,
        bool signedScale = false, double biasScale = 0.5)
    {
        int d = arch.Dim, m = arch.Neurons;
        for (ulong attempt = 0; attempt < 100_000; attempt++)
        {
            var rng = new Xoshiro256(seed * 100_003 + attempt);
            var p = new SaeParameters(d, m, arch.Tied);
            for (int k = 0; k < m; k++)
                for (int j = 0; j < d; j++)
                {
                    p.DecoderRow(k)[j] = (float)rng.NextGaussian();
                    if (!arch.Tied) p.EncoderRow(k)[j] = (float)rng.NextGaussian();
                }
            for (int k = 0; k < m; k++)
            {
                float a = (float)(0.5 + rng.NextDouble());
                p.Scale[k] = signedScale && rng.NextInt(2) == 0 ? -a : a;
                p.Bias[k] = (float)(-biasScale * rng.NextDouble());
            }
            for (int j = 0; j < d; j++) p.PreBias[j] = (float)(0.2 * rng.NextGaussian());
            var x = new float[n * d];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextGaussian();
            var (_, y) = ReferenceSae.From(arch, p).PreActivations(ToDouble(x), n);
            if (accept(y)) return (p, x);
        }
        throw new InvalidOperationException("No problem met the margins.");
    }

    public static double[] ToDouble(float[] x) => x.Select(v => (double)v).ToArray();

    /// <summary>Rows [n × d] into a padded batch [n × Stride].</summary>
    public static AlignedArray Padded(float[] x, int n, SaeParameters p)
    {
        var a = new AlignedArray((long)n * p.Stride);
        for (int t = 0; t < n; t++) x.AsSpan(t * p.Dim, p.Dim).CopyTo(a.Span.Slice(t * p.Stride));
        return a;
    }

    /// <summary>Z = (X − b_pre)·W_encᵀ [n × M] by the engine's SGEMM, as the fused encoder computes it.</summary>
    public static unsafe float[] DenseZ(SaeParameters p, AlignedArray x, int n)
    {
        int d = p.Dim, stride = p.Stride, m = p.Neurons;
        var xc = new AlignedArray((long)n * stride);
        for (int t = 0; t < n; t++)
            for (int j = 0; j < d; j++) xc.Span[t * stride + j] = x.Span[t * stride + j] - p.PreBias[j];
        var z = new AlignedArray((long)n * m);
        using (var gemm = new SgemmContext(1))
            gemm.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, n, m, d, 1f,
                xc.Pointer, stride, p.Data.Pointer + p.EncoderOffset, stride, 0f, z.Pointer, m);
        return z.Span.ToArray();
    }

    public static void Near(double expected, float actual, string what, double tol = 2e-5) =>
        Assert.True(Math.Abs(expected - actual) <= tol * (1 + Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");

    /// <summary>Engine gradient against a float64 one, every parameter.</summary>
    public static void AssertGradient(ReferenceSae.Grad expected, SaeParameters grad, bool tied, bool checkBias = true)
    {
        int d = grad.Dim, m = grad.Neurons;
        for (int k = 0; k < m; k++)
        {
            for (int j = 0; j < d; j++)
            {
                Near(expected.Dec[k * d + j], grad.DecoderRow(k)[j], $"dec[{k},{j}]");
                if (!tied) Near(expected.Enc[k * d + j], grad.EncoderRow(k)[j], $"enc[{k},{j}]");
            }
            Near(expected.A[k], grad.Scale[k], $"a[{k}]");
            if (checkBias) Near(expected.B[k], grad.Bias[k], $"b[{k}]");
        }
        for (int j = 0; j < d; j++) Near(expected.Pre[j], grad.PreBias[j], $"b_pre[{j}]");
    }

    /// <summary>Sum of two float64 gradients.</summary>
    public static ReferenceSae.Grad Sum(ReferenceSae.Grad a, ReferenceSae.Grad b) => new()
    {
        Dec = a.Dec.Zip(b.Dec, (u, v) => u + v).ToArray(),
        Enc = a.Enc.Zip(b.Enc, (u, v) => u + v).ToArray(),
        A = a.A.Zip(b.A, (u, v) => u + v).ToArray(),
        Pre = a.Pre.Zip(b.Pre, (u, v) => u + v).ToArray(),
        B = a.B.Zip(b.B, (u, v) => u + v).ToArray(),
    };

    /// <summary>Central finite differences of f against grad for every entry of param.</summary>
    public static void CheckFiniteDifferences(double[] param, double[] grad, Func<double> f, string name, double h = 1e-6, double tol = 1e-6)
    {
        for (int i = 0; i < param.Length; i++)
        {
            double keep = param[i];
            param[i] = keep + h; double lp = f();
            param[i] = keep - h; double lm = f();
            param[i] = keep;
            double fd = (lp - lm) / (2 * h);
            Assert.True(Math.Abs(fd - grad[i]) <= tol * (1 + Math.Abs(fd)), $"{name}[{i}]: finite difference {fd} vs analytic {grad[i]}");
        }
    }
}
