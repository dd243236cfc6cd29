// The Mann-Whitney U (Wilcoxon rank-sum) test and the Hodges-Lehmann shift estimate with its
// distribution-free confidence interval. U counts the pairs (x_i, y_j) with x_i > y_j (ties count
// one half). Under H0 (both samples from one distribution) every assignment of the n + m ranks to the
// two samples is equally likely, so P(U = u) = c(u) / C(n + m, n), where c(u) is the coefficient of q^u
// in the Gaussian binomial [n + m choose n]_q (see Counts): exact, and
// used when there are no ties and n + m <= 60. Otherwise the normal approximation with the tie
// correction of the variance and a continuity correction.
using MathNet.Numerics.Distributions;

namespace GbaEngine.Benchmarks.Regression.Compare;

internal static class MannWhitney
{
    /// <summary>Largest n + m for the exact distribution (its cost is O((n + m) · n · n·m)); at this size the
    /// normal approximation is already within 10% of the exact tail down to p = 0.005 and larger
    /// (conservative) beyond (tested).</summary>
    public const int ExactLimit = 60;

    static readonly Dictionary<(int, int), double[]> CountCache = [];

    /// <summary>U of x against y: pairs with x_i &gt; y_j, plus half the tied pairs.</summary>
    public static double U(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        // Rank-sum form: U = R_x - n(n+1)/2 with mid-ranks for ties, O((n+m) log(n+m)).
        var all = x.Select(v => (v, fromX: true)).Concat(y.Select(v => (v, fromX: false))).OrderBy(p => p.v).ToArray();
        double rankSumX = 0;
        for (int i = 0; i < all.Length;)
        {
            int j = i;
            while (j + 1 < all.Length && all[j + 1].v == all[i].v) j++;
            double midRank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) if (all[k].fromX) rankSumX += midRank;
            i = j + 1;
        }
        return rankSumX - x.Count * (x.Count + 1) / 2.0;
    }

    /// <summary>One-sided p-value of H1 "x is stochastically greater than y": P(U ≥ U_observed) under H0.</summary>
    public static double PGreater(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        int n = x.Count, m = y.Count;
        if (n == 0 || m == 0) throw new ArgumentException("Both samples need at least one value.");
        double u = U(x, y);
        if (!HasTies(x, y) && n + m <= ExactLimit)
            return ExactUpperTail(n, m, (int)Math.Round(u));
        return NormalUpperTail(n, m, u, Variance(x, y));
    }

    /// <summary>P(U ≥ u) by the normal approximation with a continuity correction, given Var(U).</summary>
    public static double NormalUpperTail(int n, int m, double u, double variance)
    {
        double mean = n * (double)m / 2;
        if (variance == 0) return u > mean ? 0 : 1;   // every value tied: no evidence either way
        return 1 - Normal.CDF(0, 1, (u - mean - 0.5) / Math.Sqrt(variance));
    }

    /// <summary>P(U ≥ u) under H0, exactly (no ties).</summary>
    public static double ExactUpperTail(int n, int m, int u)
    {
        var c = Counts(n, m);
        double tail = 0;
        for (int k = Math.Max(u, 0); k < c.Length; k++) tail += c[k];
        return Math.Min(1, tail / Binomial(n + m, n));
    }

    /// <summary>The smallest one-sided p-value samples of these sizes can reach: below α or the test can never reject.</summary>
    public static double SmallestP(int n, int m) => 1 / Binomial(n + m, n);

    /// <summary>
    /// Hodges-Lehmann estimate of the shift Δ in "x - Δ has y's distribution" (the median of all
    /// pairwise differences x_i - y_j) with its distribution-free confidence interval of level
    /// 1 - alpha: the order statistics of the differences cut at the U test's two-sided critical value.
    /// </summary>
    public static (double Estimate, double Low, double High) Shift(IReadOnlyList<double> x, IReadOnlyList<double> y, double alpha)
    {
        int n = x.Count, m = y.Count;
        var d = new double[n * m];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++) d[i * m + j] = x[i] - y[j];
        Array.Sort(d);
        double median = d.Length % 2 == 1 ? d[d.Length / 2] : (d[d.Length / 2 - 1] + d[d.Length / 2]) / 2;
        int k = LowerCriticalCount(n, m, alpha / 2);
        if (k < 1) return (median, double.NegativeInfinity, double.PositiveInfinity);   // too few samples for this level
        return (median, d[k - 1], d[d.Length - k]);
    }

    /// <summary>The largest k with P(U ≤ k - 1) ≤ p under H0 (exact when small, else normal): the
    /// k-th smallest and k-th largest pairwise differences bound the interval.</summary>
    static int LowerCriticalCount(int n, int m, double p)
    {
        if (n + m <= ExactLimit)
        {
            var c = Counts(n, m);
            double total = Binomial(n + m, n), cumulative = 0;
            int k = 0;
            while (k < c.Length && (cumulative + c[k]) / total <= p) cumulative += c[k++];
            return k;
        }
        double mean = n * (double)m / 2, sd = Math.Sqrt(n * (double)m * (n + m + 1) / 12);
        return (int)Math.Floor(mean - Normal.InvCDF(0, 1, 1 - p) * sd + 0.5);
    }

    static bool HasTies(IReadOnlyList<double> x, IReadOnlyList<double> y) =>
        x.Concat(y).Distinct().Count() < x.Count + y.Count;

    /// <summary>Var(U) under H0 with the tie correction: n m / 12 · ((N + 1) - Σ(t³ - t) / (N (N - 1))).</summary>
    static double Variance(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        int n = x.Count, m = y.Count, total = n + m;
        double ties = x.Concat(y).GroupBy(v => v).Sum(g => Math.Pow(g.Count(), 3) - g.Count());
        return n * (double)m / 12 * (total + 1 - ties / (total * (double)(total - 1)));
    }

    /// <summary>c[u]: how many of the C(n + m, n) rank assignments give U = u, the coefficients of the
    /// Gaussian binomial [n + m choose n]_q, built by the q-Pascal rule
    /// [N+1 choose k]_q = [N choose k-1]_q + q^k [N choose k]_q: additions of non-negative counts only,
    /// so the large counts (up to C(60, 30) ~ 1e17, past the 2^53 of exact integers) keep full relative precision.</summary>
    public static double[] Counts(int n, int m)
    {
        lock (CountCache)
        {
            if (!CountCache.TryGetValue((n, m), out var c)) CountCache[(n, m)] = c = ComputeCounts(n, m);
            return c;
        }
    }

    static double[] ComputeCounts(int n, int m)
    {
        int degree = n * m;
        var p = new double[n + 1][];
        for (int k = 0; k <= n; k++) p[k] = new double[degree + 1];
        p[0][0] = 1;                                        // N = 0: [0 choose 0] = 1
        for (int total = 1; total <= n + m; total++)
            for (int k = Math.Min(total, n); k >= 1; k--)
            {
                var next = p[k];
                var below = p[k - 1];
                // q^k [N choose k]: shift up by k in place (from the top), then add [N choose k-1].
                for (int u = degree; u >= k; u--) next[u] = next[u - k];
                for (int u = 0; u < k; u++) next[u] = 0;
                for (int u = 0; u <= degree; u++) next[u] += below[u];
            }
        return p[n];
    }

    static double Binomial(int total, int k)
    {
        double r = 1;
        for (int i = 1; i <= k; i++) r = r * (total - k + i) / i;
        return r;
    }
}
