using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Tests.Reference;

/// <summary>
/// A float64, dense, loop-by-loop SAE (the llm.c-style naive twin of the whole training step):
/// the oracle for finite differences and for the engine's sparse float32 step. Parameters are
/// plain arrays without padding; dec and enc are the same array when tied.
/// </summary>
public sealed class ReferenceSae
{
    public int D, M;
    public bool Tied;
    public SaeActivation Gate;
    public int TopK;                 // 0: threshold gating
    public double[] Dec, Enc, A, Pre, B;

    public ReferenceSae(int d, int m, bool tied, SaeActivation gate, int topK = 0)
    {
        D = d; M = m; Tied = tied; Gate = topK > 0 ? SaeActivation.Relu : gate; TopK = topK;
        Dec = new double[m * d];
        Enc = tied ? Dec : new double[m * d];
        A = new double[m]; Pre = new double[d]; B = new double[m];
    }

    public static ReferenceSae From(SaeArchitecture arch, SaeParameters p)
    {
        var r = new ReferenceSae(arch.Dim, arch.Neurons, arch.Tied, arch.Gate, arch.Sparsity == SparsityMode.TopK ? arch.K : 0);
        for (int m = 0; m < r.M; m++)
            for (int j = 0; j < r.D; j++)
            {
                r.Dec[m * r.D + j] = p.DecoderRow(m)[j];
                if (!r.Tied) r.Enc[m * r.D + j] = p.EncoderRow(m)[j];
            }
        for (int m = 0; m < r.M; m++) { r.A[m] = p.Scale[m]; r.B[m] = p.Bias[m]; }
        for (int j = 0; j < r.D; j++) r.Pre[j] = p.PreBias[j];
        return r;
    }

    public sealed class Grad
    {
        public double[] Dec = [], Enc = [], A = [], Pre = [], B = [];
    }

    /// <summary>Pre-activations y[t, m] = enc_m·(x_t − pre) + b_m and z without b.</summary>
    public (double[] Z, double[] Y) PreActivations(double[] x, int n)
    {
        var z = new double[n * M];
        var y = new double[n * M];
        for (int t = 0; t < n; t++)
            for (int m = 0; m < M; m++)
            {
                double s = 0;
                for (int j = 0; j < D; j++) s += Enc[m * D + j] * (x[t * D + j] - Pre[j]);
                z[t * M + m] = s;
                y[t * M + m] = s + B[m];
            }
        return (z, y);
    }

    /// <summary>Which (t, m) are active: y &gt; 0, or among the top-k positive y (ties to the lower index).</summary>
    public bool[] Active(double[] y, int n)
    {
        var act = new bool[n * M];
        for (int t = 0; t < n; t++)
        {
            if (TopK == 0)
            {
                for (int m = 0; m < M; m++) act[t * M + m] = y[t * M + m] > 0;
                continue;
            }
            var order = Enumerable.Range(0, M).Where(m => y[t * M + m] > 0)
                .OrderByDescending(m => y[t * M + m]).ThenBy(m => m).Take(TopK);
            foreach (var m in order) act[t * M + m] = true;
        }
        return act;
    }

    /// <summary>Mean over tokens of 0.5‖x̂ − x‖², with the active set given (so finite differences keep it fixed).</summary>
    public double Loss(double[] x, int n, bool[]? fixedActive = null)
    {
        var (z, y) = PreActivations(x, n);
        var act = fixedActive ?? Active(y, n);
        double loss = 0;
        for (int t = 0; t < n; t++)
        {
            var xhat = (double[])Pre.Clone();
            for (int m = 0; m < M; m++)
            {
                if (!act[t * M + m]) continue;
                double h = Gate == SaeActivation.JumpRelu ? z[t * M + m] : y[t * M + m];
                for (int j = 0; j < D; j++) xhat[j] += A[m] * h * Dec[m * D + j];
            }
            for (int j = 0; j < D; j++) { double e = xhat[j] - x[t * D + j]; loss += 0.5 * e * e; }
        }
        return loss / n;
    }

    /// <summary>Analytic gradient of <see cref="Loss"/> (b's gradient as an ordinary encoder bias), with the
    /// active set given or the form's own.</summary>
    public Grad Gradient(double[] x, int n, bool[]? fixedActive = null)
    {
        var (z, y) = PreActivations(x, n);
        var act = fixedActive ?? Active(y, n);
        var g = new Grad { Dec = new double[M * D], Enc = Tied ? [] : new double[M * D], A = new double[M], Pre = new double[D], B = new double[M] };
        var gEnc = Tied ? g.Dec : g.Enc;
        for (int t = 0; t < n; t++)
        {
            var e = (double[])Pre.Clone();
            for (int m = 0; m < M; m++)
            {
                if (!act[t * M + m]) continue;
                double h = Gate == SaeActivation.JumpRelu ? z[t * M + m] : y[t * M + m];
                for (int j = 0; j < D; j++) e[j] += A[m] * h * Dec[m * D + j];
            }
            for (int j = 0; j < D; j++) e[j] -= x[t * D + j];
            for (int j = 0; j < D; j++) g.Pre[j] += e[j] / n;
            for (int m = 0; m < M; m++)
            {
                if (!act[t * M + m]) continue;
                double h = Gate == SaeActivation.JumpRelu ? z[t * M + m] : y[t * M + m];
                double dot = 0;
                for (int j = 0; j < D; j++) dot += e[j] * Dec[m * D + j];
                g.A[m] += dot * h / n;
                if (Gate == SaeActivation.Relu) g.B[m] += dot * A[m] / n;   // JumpReLU: b is only a threshold
                for (int j = 0; j < D; j++)
                {
                    g.Dec[m * D + j] += A[m] * h * e[j] / n;
                    gEnc[m * D + j] += dot * A[m] * (x[t * D + j] - Pre[j]) / n;
                    g.Pre[j] -= dot * A[m] * Enc[m * D + j] / n;
                }
            }
        }
        return g;
    }
}
