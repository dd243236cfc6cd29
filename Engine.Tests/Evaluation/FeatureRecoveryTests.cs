using GbaEngine.Evaluation;
using GbaEngine.Synthetic;
using GbaEngine.Rng;

namespace GbaEngine.Tests.Evaluation;

[Trait("Category", "Kernels")]
public class FeatureRecoveryTests
{
    [Fact]
    public void PermutedRescaledCopyOfTheTruthRecoversEverything()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 64, Dim: 20), seed: 5);
        int n = 64, d = 20, m = 96, stride = 32;
        var dict = new float[m * stride];
        var rng = new Xoshiro256(9);
        var perm = Enumerable.Range(0, m).OrderBy(_ => rng.NextUInt64()).ToArray();
        for (int i = 0; i < m; i++)
        {
            // rows 0..63 are scaled copies of the features (in shuffled positions); the rest are noise.
            var row = dict.AsSpan(perm[i] * stride, stride);
            if (i < n) { float s = 0.1f + i; for (int j = 0; j < d; j++) row[j] = s * model.Feature(i)[j]; }
            else for (int j = 0; j < d; j++) row[j] = (float)rng.NextGaussian();
        }
        var best = FeatureRecovery.BestCosines(model.Features, n, dict, m, d, stride, threads: 2);
        Assert.All(best, c => Assert.True(c > 0.9999f));
        Assert.Equal(1.0, FeatureRecovery.Rate(best, 0.9));
        Assert.Equal(1.0, FeatureRecovery.Rate(best, 0.8));
    }

    [Fact]
    public void HandMadeCasesGiveExactCosinesAndRates()
    {
        // Truth: e1, e2, e3 in R^3. Dictionary: e1, (e2 + e3)/√2 (cos 0.707 with both), −e3.
        float[] truth = [1, 0, 0, 0, 1, 0, 0, 0, 1];
        float r = MathF.Sqrt(0.5f);
        float[] dict = [2, 0, 0, 0, r, r, 0, 0, -1];
        var best = FeatureRecovery.BestCosines(truth, 3, dict, 3, 3, 3);
        Assert.Equal(1f, best[0], 6);
        Assert.Equal(r, best[1], 6);
        Assert.Equal(r, best[2], 6);      // −e3 points the wrong way: sign matters
        Assert.Equal(1.0 / 3, FeatureRecovery.Rate(best, 0.8), 12);
        Assert.Equal(1.0, FeatureRecovery.Rate(best, 0.7), 12);
    }

    [Fact]
    public void ConsistencyOfARunWithItselfIsOneAndRanksByMaxActivation()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 2000, Dim: 16), seed: 1);
        var maxAct = Enumerable.Range(0, 2000).Select(i => (float)i).ToArray();
        var rows = Consistency.Compare(model.Features, 2000, model.Features, 2000, 16, 16, 16, maxAct);
        Assert.Equal(["all", "top 0.3%", "top 0.05%"], rows.Select(r => r.Subset));
        Assert.Equal([2000, 6, 1], rows.Select(r => r.Neurons));
        Assert.All(rows, r => Assert.Equal(1.0, r.Above09));
        // Against unrelated random directions in d = 16, cosines above 0.9 are rare.
        var other = new SyntheticModel(new SyntheticSpec(Features: 50, Dim: 16), seed: 2);
        var cross = Consistency.Compare(model.Features, 2000, other.Features, 50, 16, 16, 16, maxAct);
        Assert.True(cross[0].Above09 < 0.05);
    }

    [Fact]
    public void ConsistencySubsetsAreTheTopFractionOfEachRanking()
    {
        // A's first 50 rows are B's rows, its last 50 unrelated directions. A ranking that puts the shared rows first
        // gives its top half MCS 1; the reversed ranking gives its top half the unrelated ones.
        var b = new SyntheticModel(new SyntheticSpec(Features: 50, Dim: 16), seed: 1).Features;
        var other = new SyntheticModel(new SyntheticSpec(Features: 50, Dim: 16), seed: 7).Features;
        var a = b.Concat(other).ToArray();
        var sharedFirst = Enumerable.Range(0, 100).Select(i => (float)(100 - i)).ToArray();
        var rows = Consistency.Compare(a, 100, b, 50, 16, 16, 16,
            [new NeuronRanking("shared", sharedFirst), new NeuronRanking("reversed", sharedFirst.Select(v => -v).ToArray())], [0.5, 0.01]);
        Assert.Equal(["all", "top 50% by shared", "top 1% by shared", "top 50% by reversed", "top 1% by reversed"], rows.Select(r => r.Subset));
        Assert.Equal([100, 50, 1, 50, 1], rows.Select(r => r.Neurons));
        Assert.Equal(1.0, rows[1].Above09);
        Assert.True(rows[3].Above09 < 0.1, rows[3].ToString());
        Assert.InRange(rows[0].Above09, 0.5, 0.55);
        Assert.Throws<ArgumentException>(() => Consistency.Compare(a, 100, b, 50, 16, 16, 16, [new NeuronRanking("short", new float[3])], [0.5]));
    }
}
