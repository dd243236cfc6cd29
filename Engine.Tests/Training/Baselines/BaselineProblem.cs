using GbaEngine.Model;
using GbaEngine.Rng;
using GbaEngine.Tests.Reference;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>Small random SAEs and batches whose float64 pre-activations keep the margins a baseline's
/// gradient checks need, and the sum of two float64 gradients (the reconstruction's and a penalty's).</summary>
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

    /// <summary>Sum of two float64 gradients.</summary>
    public static ReferenceSae.Grad Sum(ReferenceSae.Grad a, ReferenceSae.Grad b) => new()
    {
        Dec = a.Dec.Zip(b.Dec, (u, v) => u + v).ToArray(),
        Enc = a.Enc.Zip(b.Enc, (u, v) => u + v).ToArray(),
        A = a.A.Zip(b.A, (u, v) => u + v).ToArray(),
        Pre = a.Pre.Zip(b.Pre, (u, v) => u + v).ToArray(),
        B = a.B.Zip(b.B, (u, v) => u + v).ToArray(),
    };
}
