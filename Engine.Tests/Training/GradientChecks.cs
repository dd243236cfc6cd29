using GbaEngine.Model;
using GbaEngine.Tests.Reference;

namespace GbaEngine.Tests.Training;

/// <summary>
/// The two gradient checks every training test makes: the float64 reference against central finite
/// differences, and the engine's float32 gradient against the float64 one.
/// </summary>
internal static class GradientChecks
{
    /// <summary>The float32 batch as the float64 reference reads it.</summary>
    public static double[] ToDouble(float[] x) => x.Select(v => (double)v).ToArray();

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

    /// <summary>Finite differences of f against g for every parameter of r (W_enc only when untied: tied, it is W).</summary>
    public static void CheckEveryParameter(ReferenceSae r, ReferenceSae.Grad g, Func<double> f, bool tied)
    {
        CheckFiniteDifferences(r.Dec, g.Dec, f, tied ? "W" : "W_dec");
        if (!tied) CheckFiniteDifferences(r.Enc, g.Enc, f, "W_enc");
        CheckFiniteDifferences(r.A, g.A, f, "a");
        CheckFiniteDifferences(r.Pre, g.Pre, f, "b_pre");
        CheckFiniteDifferences(r.B, g.B, f, "b");
    }

    public static void Near(double expected, float actual, string what, double tol = 2e-5) =>
        Assert.True(Math.Abs(expected - actual) <= tol * (1 + Math.Abs(expected)), $"{what}: expected {expected}, got {actual}");

    /// <summary>Engine gradient against a float64 one, every parameter.</summary>
    public static void AssertGradient(ReferenceSae.Grad expected, SaeParameters grad, bool tied)
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
            Near(expected.B[k], grad.Bias[k], $"b[{k}]");
        }
        for (int j = 0; j < d; j++) Near(expected.Pre[j], grad.PreBias[j], $"b_pre[{j}]");
    }
}
