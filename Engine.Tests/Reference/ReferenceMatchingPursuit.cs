using GbaEngine.Model;

namespace GbaEngine.Tests.Reference;

/// <summary>
/// MP-SAE in float64, one token at a time, written from the definition (spec/gba.md §4): the oracle
/// for the engine's pursuit and chain gradients. Dict [M × D] (no padding), Pre [D].
/// </summary>
public sealed class ReferenceMatchingPursuit
{
    public int D, M;
    public double[] Dict, Pre;

    public ReferenceMatchingPursuit(int d, int m)
    {
        D = d; M = m;
        Dict = new double[m * d];
        Pre = new double[d];
    }

    public static ReferenceMatchingPursuit From(SaeParameters p)
    {
        var r = new ReferenceMatchingPursuit(p.Dim, p.Neurons);
        for (int m = 0; m < r.M; m++)
            for (int j = 0; j < r.D; j++) r.Dict[m * r.D + j] = p.DecoderRow(m)[j];
        for (int j = 0; j < r.D; j++) r.Pre[j] = p.PreBias[j];
        return r;
    }

    double Dot(int atom, double[] v)
    {
        double s = 0;
        for (int j = 0; j < D; j++) s += Dict[atom * D + j] * v[j];
        return s;
    }

    /// <summary>Correlations of every atom with v, in atom order.</summary>
    public double[] Correlations(double[] v) => Enumerable.Range(0, M).Select(m => Dot(m, v)).ToArray();

    /// <summary>Pursuit of token x (length D): the atoms (chosen by argmax of positive correlation, or given)
    /// and coefficients of each step, and the final residual. Stops when no correlation is positive.</summary>
    public (List<int> Atoms, List<double> Coeffs, double[] Residual) Encode(ReadOnlySpan<double> x, int steps, IReadOnlyList<int>? fixedAtoms = null)
    {
        var r = new double[D];
        for (int j = 0; j < D; j++) r[j] = x[j] - Pre[j];
        var atoms = new List<int>();
        var coeffs = new List<double>();
        for (int s = 0; s < (fixedAtoms?.Count ?? steps); s++)
        {
            int best;
            if (fixedAtoms != null) best = fixedAtoms[s];
            else
            {
                var corr = Correlations(r);
                best = -1;
                for (int m = 0; m < M; m++) if (corr[m] > 0 && (best < 0 || corr[m] > corr[best])) best = m;
                if (best < 0) break;
            }
            double c = Dot(best, r);
            for (int j = 0; j < D; j++) r[j] -= c * Dict[best * D + j];
            atoms.Add(best);
            coeffs.Add(c);
        }
        return (atoms, coeffs, r);
    }

    /// <summary>Mean over tokens of 0.5‖r_T‖², with each token's atoms fixed (so finite differences see a smooth function).</summary>
    public double Loss(double[] x, int n, IReadOnlyList<int>[] atoms)
    {
        double loss = 0;
        for (int t = 0; t < n; t++)
        {
            var (_, _, r) = Encode(x.AsSpan(t * D, D), 0, atoms[t]);
            loss += 0.5 * r.Sum(v => v * v);
        }
        return loss / n;
    }

    /// <summary>Analytic gradients (dictionary, b_pre) by reverse-mode through each token's chain.</summary>
    public (double[] Dict, double[] Pre) Gradient(double[] x, int n, IReadOnlyList<int>[] atoms)
    {
        var gDict = new double[M * D];
        var gPre = new double[D];
        for (int t = 0; t < n; t++)
        {
            // Forward, keeping every intermediate residual r_0..r_T.
            var rs = new List<double[]> { Enumerable.Range(0, D).Select(j => x[t * D + j] - Pre[j]).ToArray() };
            var cs = new List<double>();
            foreach (int a in atoms[t])
            {
                var prev = rs[^1];
                double c = Dot(a, prev);
                cs.Add(c);
                rs.Add(Enumerable.Range(0, D).Select(j => prev[j] - c * Dict[a * D + j]).ToArray());
            }
            var g = (double[])rs[^1].Clone();          // ∂(0.5‖r_T‖²)/∂r_T
            for (int s = atoms[t].Count - 1; s >= 0; s--)
            {
                int a = atoms[t][s];
                var prev = rs[s];
                double alpha = Dot(a, g);
                // r_s = prev − (D_a·prev) D_a: ∂/∂D_a = −(α prev + c g), ∂/∂prev = g − α D_a.
                for (int j = 0; j < D; j++) gDict[a * D + j] -= (alpha * prev[j] + cs[s] * g[j]) / n;
                for (int j = 0; j < D; j++) g[j] -= alpha * Dict[a * D + j];
            }
            for (int j = 0; j < D; j++) gPre[j] -= g[j] / n;
        }
        return (gDict, gPre);
    }
}
