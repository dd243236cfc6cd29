using GbaEngine.Benchmarks.Regression.Compare;
using Perfolizer.Mathematics.SignificanceTesting.MannWhitney;

namespace GbaEngine.Benchmarks.Tests;

public class MannWhitneyTests
{
    /// <summary>P(U ≤ u) from our exact counts.</summary>
    static double Cdf(int n, int m, int u)
    {
        var c = MannWhitney.Counts(n, m);
        double total = c.Sum(), below = 0;
        for (int k = 0; k <= Math.Min(u, c.Length - 1); k++) below += c[k];
        return below / total;
    }

    [Fact]
    public void CountsOfTwoByTwoAreTheSixRankAssignments()
    {
        // Ranks {1,2,3,4}, x takes two: U = 0 (12), 1 (13), 2 (14, 23), 3 (24), 4 (34).
        Assert.Equal([1, 1, 2, 1, 1], MannWhitney.Counts(2, 2));
    }

    [Fact]
    public void CountsSumToTheBinomialAndAreSymmetric()
    {
        foreach (var (n, m) in new[] { (1, 7), (5, 5), (8, 13), (20, 20), (30, 30) })
        {
            var c = MannWhitney.Counts(n, m);
            double binomial = 1;
            for (int i = 1; i <= n; i++) binomial = binomial * (m + i) / i;
            Assert.Equal(binomial, c.Sum(), binomial * 1e-12);
            for (int u = 0; u < c.Length; u++) Assert.Equal(c[u], c[^(u + 1)]);
        }
    }

    /// <summary>Two-tailed alpha = 0.05 critical values of U (the largest u with 2·P(U ≤ u) ≤ 0.05), as printed
    /// in the standard tables (e.g. Siegel and Castellan, Nonparametric Statistics, table J).</summary>
    [Theory]
    [InlineData(5, 5, 2)]
    [InlineData(5, 8, 6)]
    [InlineData(5, 10, 8)]
    [InlineData(5, 20, 20)]
    [InlineData(6, 6, 5)]
    [InlineData(7, 7, 8)]
    [InlineData(8, 8, 13)]
    [InlineData(9, 9, 17)]
    [InlineData(10, 10, 23)]
    [InlineData(12, 12, 37)]
    [InlineData(15, 15, 64)]
    [InlineData(20, 20, 127)]
    public void CriticalValuesMatchThePublishedTable(int n, int m, int critical)
    {
        Assert.True(2 * Cdf(n, m, critical) <= 0.05, $"U = {critical} should be significant");
        Assert.True(2 * Cdf(n, m, critical + 1) > 0.05, $"U = {critical + 1} should not be");
    }

    [Fact]
    public void ExactCdfAgreesWithPerfolizer()
    {
        // An independent implementation (the one BenchmarkDotNet's ecosystem uses); its Cdf(n, m, u) is P(U < u).
        var reference = new MannWhitneyClassicExactCdf();
        for (int n = 1; n <= 12; n++)
            for (int m = 1; m <= 12; m++)
                for (int u = 0; u <= n * m + 1; u++)
                    Assert.Equal(reference.Cdf(n, m, u), u == 0 ? 0 : Cdf(n, m, u - 1), 1e-12);
    }

    [Fact]
    public void UCountsPairsAndHalvesTies()
    {
        Assert.Equal(0, MannWhitney.U([1, 2, 3], [4, 5, 6]));
        Assert.Equal(9, MannWhitney.U([4, 5, 6], [1, 2, 3]));
        // x = {1,2,3}, y = {2,3,4}: x>y pairs: (3,2) = 1; ties (2,2), (3,3) = 2 halves; U = 2.
        Assert.Equal(2, MannWhitney.U([1, 2, 3], [2, 3, 4]));
    }

    [Fact]
    public void SeparatedSamplesReachTheSmallestExactP()
    {
        double[] low = [1, 2, 3, 4, 5], high = [6, 7, 8, 9, 10];
        Assert.Equal(1 / 252.0, MannWhitney.PGreater(high, low), 1e-12);
        Assert.Equal(1.0, MannWhitney.PGreater(low, high), 1e-12);
        Assert.Equal(1 / 252.0, MannWhitney.SmallestP(5, 5), 1e-12);
    }

    [Fact]
    public void NormalApproximationIsCloseToTheExactTailPastTheExactLimit()
    {
        // At n = m = 30 (the largest exact size) the approximation used beyond it is within 2e-3 of
        // the exact tail everywhere, within 10% of it down to p = 0.005 (around the alpha of a
        // comparison), and conservative (larger) further out.
        const int n = 30;
        double variance = n * n * (2 * n + 1) / 12.0;
        for (int u = n * n / 2; u <= n * n; u += 5)
        {
            double exact = MannWhitney.ExactUpperTail(n, n, u), approx = MannWhitney.NormalUpperTail(n, n, u, variance);
            Assert.True(Math.Abs(exact - approx) < 2e-3, $"U = {u}: exact {exact}, normal {approx}");
            if (exact > 0.005) Assert.InRange(approx / exact, 0.9, 1.1);
            else Assert.True(approx >= exact, $"U = {u}: normal {approx} below exact {exact}");
        }
    }

    [Fact]
    public void AllTiedSamplesGiveNoEvidence()
    {
        Assert.Equal(1, MannWhitney.PGreater([2, 2, 2, 2, 2, 2], [2, 2, 2, 2, 2, 2]));
    }

    [Fact]
    public void HodgesLehmannRecoversAnExactShiftInsideItsInterval()
    {
        var rng = new Random(3);
        var y = Enumerable.Range(0, 15).Select(_ => rng.NextDouble()).ToArray();
        var x = y.Select(v => v + 0.25).ToArray();
        var (estimate, low, high) = MannWhitney.Shift(x, y, 0.05);
        Assert.Equal(0.25, estimate, 1e-12);
        Assert.True(low < 0.25 && 0.25 < high);
        Assert.True(low > 0, "a 0.25 shift of uniforms over 15 samples is significant");
    }

    [Fact]
    public void HodgesLehmannIntervalIsUnboundedWhenSamplesAreTooFew()
    {
        var (_, low, high) = MannWhitney.Shift([1, 2], [3, 4], 0.05);
        Assert.True(double.IsNegativeInfinity(low) && double.IsPositiveInfinity(high));
    }
}
