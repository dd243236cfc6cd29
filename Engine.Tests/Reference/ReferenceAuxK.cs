namespace GbaEngine.Tests.Reference;

/// <summary>
/// AuxK in float64, dense and loop by loop, from its definition (Gao et al. 2024 as sparsify computes it):
/// per token the k_aux largest positive y among the dead latents reconstruct the residual e = x − x̂,
/// held fixed; L = α·min(n_dead/k_aux, 1)·Σ_t ‖ê_t − e_t‖² / Σ_t ‖e_t − ē‖², ê_t = Σ_m a_m y_tm dec_m.
/// </summary>
public static class ReferenceAuxK
{
    /// <summary>Per token, the <paramref name="k"/> largest positive y among the dead latents (ties to the lower index).</summary>
    public static bool[] Selection(double[] y, int n, int m, bool[] dead, int k)
    {
        var sel = new bool[n * m];
        for (int t = 0; t < n; t++)
            foreach (int j in Enumerable.Range(0, m).Where(j => dead[j] && y[t * m + j] > 0)
                         .OrderByDescending(j => y[t * m + j]).ThenBy(j => j).Take(k))
                sel[t * m + j] = true;
        return sel;
    }

    /// <summary>e_t = x_t − x̂_t under the main active set [n × d].</summary>
    public static double[] Residual(ReferenceSae r, double[] x, int n, bool[] active)
    {
        var (z, y) = r.PreActivations(x, n);
        var e = new double[n * r.D];
        for (int t = 0; t < n; t++)
        {
            for (int j = 0; j < r.D; j++) e[t * r.D + j] = x[t * r.D + j] - r.Pre[j];
            for (int m = 0; m < r.M; m++)
            {
                if (!active[t * r.M + m]) continue;
                double h = r.Gate == GbaEngine.Model.SaeActivation.JumpRelu ? z[t * r.M + m] : y[t * r.M + m];
                for (int j = 0; j < r.D; j++) e[t * r.D + j] -= r.A[m] * h * r.Dec[m * r.D + j];
            }
        }
        return e;
    }

    /// <summary>Σ_t ‖e_t − ē‖².</summary>
    public static double Variance(double[] e, int n, int d)
    {
        var mean = new double[d];
        for (int t = 0; t < n; t++) for (int j = 0; j < d; j++) mean[j] += e[t * d + j] / n;
        double v = 0;
        for (int t = 0; t < n; t++) for (int j = 0; j < d; j++) { double c = e[t * d + j] - mean[j]; v += c * c; }
        return v;
    }

    /// <summary>L_aux with the selection and the residual <paramref name="e"/> given (e is detached: a constant).</summary>
    public static double Loss(ReferenceSae r, double[] x, int n, bool[] selected, double[] e, int deadCount, int kAux, double alpha)
    {
        var (_, y) = r.PreActivations(x, n);
        double total = 0;
        for (int t = 0; t < n; t++)
        {
            var diff = EHat(r, y, selected, t);
            for (int j = 0; j < r.D; j++) { double c = diff[j] - e[t * r.D + j]; total += c * c; }
        }
        return alpha * Math.Min((double)deadCount / kAux, 1) * total / Variance(e, n, r.D);
    }

    /// <summary>The analytic gradient of <see cref="Loss"/> (ReLU: h = y, so b, the encoder and b_pre see it through y).</summary>
    public static ReferenceSae.Grad Gradient(ReferenceSae r, double[] x, int n, bool[] selected, double[] e, int deadCount, int kAux, double alpha)
    {
        int d = r.D, mm = r.M;
        var (_, y) = r.PreActivations(x, n);
        var g = new ReferenceSae.Grad { Dec = new double[mm * d], Enc = r.Tied ? [] : new double[mm * d], A = new double[mm], Pre = new double[d], B = new double[mm] };
        var gEnc = r.Tied ? g.Dec : g.Enc;
        double c = 2 * alpha * Math.Min((double)deadCount / kAux, 1) / Variance(e, n, d);
        for (int t = 0; t < n; t++)
        {
            var resid = EHat(r, y, selected, t);
            for (int j = 0; j < d; j++) resid[j] = c * (resid[j] - e[t * d + j]);
            for (int m = 0; m < mm; m++)
            {
                if (!selected[t * mm + m]) continue;
                double h = y[t * mm + m], dot = 0;
                for (int j = 0; j < d; j++) dot += resid[j] * r.Dec[m * d + j];
                g.A[m] += h * dot;
                g.B[m] += r.A[m] * dot;
                for (int j = 0; j < d; j++)
                {
                    g.Dec[m * d + j] += r.A[m] * h * resid[j];
                    gEnc[m * d + j] += r.A[m] * dot * (x[t * d + j] - r.Pre[j]);
                    g.Pre[j] -= r.A[m] * dot * r.Enc[m * d + j];
                }
            }
        }
        return g;
    }

    static double[] EHat(ReferenceSae r, double[] y, bool[] selected, int t)
    {
        var eh = new double[r.D];
        for (int m = 0; m < r.M; m++)
            if (selected[t * r.M + m])
                for (int j = 0; j < r.D; j++) eh[j] += r.A[m] * y[t * r.M + m] * r.Dec[m * r.D + j];
        return eh;
    }
}
