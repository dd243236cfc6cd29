using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Tests.Reference;

/// <summary>
/// The baselines' extra terms in float64, dense and loop by loop, straight from their definitions
/// (the oracle for the engine's sparse float32 passes and for finite differences):
/// L1's penalty λ·Σ_m |a_m|·‖w_m‖·h_m, BatchTopK's batch-level selection, and JumpReLU-L0's
/// straight-through pseudo-gradient for the threshold θ = −b.
/// </summary>
public static class ReferenceBaselines
{
    /// <summary>Mean over tokens of λ·Σ_m |a_m|·‖dec_m‖·h_tm (ReLU: h = y on the active set, y &gt; 0 unless given).</summary>
    public static double L1Penalty(ReferenceSae r, double[] x, int n, double lambda, bool[]? fixedActive = null)
    {
        var (_, y) = r.PreActivations(x, n);
        var act = fixedActive ?? r.Active(y, n);
        double total = 0;
        for (int t = 0; t < n; t++)
            for (int m = 0; m < r.M; m++)
                if (act[t * r.M + m]) total += Math.Abs(r.A[m]) * RowNorm(r.Dec, m, r.D) * y[t * r.M + m];
        return lambda * total / n;
    }

    /// <summary>The analytic gradient of <see cref="L1Penalty"/> alone.</summary>
    public static ReferenceSae.Grad L1Gradient(ReferenceSae r, double[] x, int n, double lambda)
    {
        int d = r.D, mm = r.M;
        var (_, y) = r.PreActivations(x, n);
        var act = r.Active(y, n);
        var g = new ReferenceSae.Grad { Dec = new double[mm * d], Enc = r.Tied ? [] : new double[mm * d], A = new double[mm], Pre = new double[d], B = new double[mm] };
        var gEnc = r.Tied ? g.Dec : g.Enc;
        for (int m = 0; m < mm; m++)
        {
            double norm = RowNorm(r.Dec, m, d), c = Math.Abs(r.A[m]) * norm;
            for (int t = 0; t < n; t++)
            {
                if (!act[t * mm + m]) continue;
                double h = y[t * mm + m];
                // ∂(c·h)/∂(enc, b, pre) through h = enc·(x − pre) + b
                for (int j = 0; j < d; j++)
                {
                    gEnc[m * d + j] += lambda * c * (x[t * d + j] - r.Pre[j]) / n;
                    g.Pre[j] -= lambda * c * r.Enc[m * d + j] / n;
                }
                g.B[m] += lambda * c / n;
                // ∂(c·h)/∂(dec, a) through c = |a|·‖dec‖
                for (int j = 0; j < d; j++) g.Dec[m * d + j] += lambda * Math.Abs(r.A[m]) * h * r.Dec[m * d + j] / norm / n;
                g.A[m] += lambda * Math.Sign(r.A[m]) * norm * h / n;
            }
        }
        return g;
    }

    /// <summary>BatchTopK: the k·n largest positive y over the whole batch; ties to the earlier token, then the lower neuron.</summary>
    public static bool[] BatchTopKActive(double[] y, int n, int m, int k)
    {
        var act = new bool[n * m];
        var order = Enumerable.Range(0, n * m).Where(i => y[i] > 0).OrderByDescending(i => y[i]).ThenBy(i => i).Take(k * n);
        foreach (int i in order) act[i] = true;
        return act;
    }

    /// <summary>
    /// JumpReLU-L0's pseudo-gradient of the loss for b, from the definition over every (token, neuron):
    /// with θ = −b, u = (z − θ)/ε and K(u) = 1[|u| &lt; ½], ð/ðθ z·H(z − θ) = −(θ/ε)·K(u) and ð/ðθ H(z − θ) = −K(u)/ε;
    /// the loss's upstream gradient ∂L/∂h_tm = a_m·(x̂_t − x_t)·dec_m (defined whether or not m is active).
    /// Returns ∂L/∂b = −∂L/∂θ for L = mean_t [0.5‖x̂_t − x_t‖² + λ·Σ_m H(z_tm − θ_m)].
    /// </summary>
    public static double[] JumpReluL0BiasGradient(ReferenceSae r, double[] x, int n, double lambda, double eps)
    {
        if (r.Gate != SaeActivation.JumpRelu || r.TopK != 0) throw new ArgumentException("JumpReLU-L0 needs the JumpReLU threshold form.");
        int d = r.D, mm = r.M;
        var (z, y) = r.PreActivations(x, n);
        var gb = new double[mm];
        for (int t = 0; t < n; t++)
        {
            var e = Reconstruct(r, z, y, t);
            for (int j = 0; j < d; j++) e[j] -= x[t * d + j];
            for (int m = 0; m < mm; m++)
            {
                double theta = -r.B[m];
                double u = (z[t * mm + m] - theta) / eps;
                if (!(Math.Abs(u) < 0.5)) continue;
                double dLdh = 0;
                for (int j = 0; j < d; j++) dLdh += r.A[m] * e[j] * r.Dec[m * d + j];
                double dLdTheta = dLdh * (-theta / eps) + lambda * (-1 / eps);
                gb[m] -= dLdTheta / n;
            }
        }
        return gb;
    }

    /// <summary>
    /// The L0 with each step H(z − θ) replaced by the ramp R(u) = clamp(u + ½, 0, 1), u = (z − θ)/ε:
    /// the function whose exact derivative in θ is the rectangle-kernel estimator −K(u)/ε.
    /// </summary>
    public static double RampL0(ReferenceSae r, double[] x, int n, double eps)
    {
        var (z, _) = r.PreActivations(x, n);
        double total = 0;
        for (int t = 0; t < n; t++)
            for (int m = 0; m < r.M; m++)
                total += Math.Clamp((z[t * r.M + m] + r.B[m]) / eps + 0.5, 0, 1);
        return total / n;
    }

    /// <summary>Mean over tokens of the number of active neurons.</summary>
    public static double L0(ReferenceSae r, double[] x, int n)
    {
        var (_, y) = r.PreActivations(x, n);
        return r.Active(y, n).Count(a => a) / (double)n;
    }

    static double[] Reconstruct(ReferenceSae r, double[] z, double[] y, int t)
    {
        var xhat = (double[])r.Pre.Clone();
        for (int m = 0; m < r.M; m++)
        {
            if (!(y[t * r.M + m] > 0)) continue;
            double h = r.Gate == SaeActivation.JumpRelu ? z[t * r.M + m] : y[t * r.M + m];
            for (int j = 0; j < r.D; j++) xhat[j] += r.A[m] * h * r.Dec[m * r.D + j];
        }
        return xhat;
    }

    static double RowNorm(double[] w, int m, int d)
    {
        double s = 0;
        for (int j = 0; j < d; j++) s += w[m * d + j] * w[m * d + j];
        return Math.Sqrt(s);
    }
}
