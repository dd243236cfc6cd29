using GbaEngine.Synthetic;

namespace GbaEngine.Tests.Synthetic;

/// <summary>The paper's mixture (a share of tokens with a second sparsity) in the statistical model.</summary>
public class SparsityMixtureTests
{
    [Fact]
    public void HalfTheTokensHoldTheSecondSparsityAndFrequenciesAreTheMixturesMean()
    {
        var spec = new SyntheticSpec(Features: 128, Dim: 42, Sparsity: 3, MixSparsity: 20, MixFraction: 0.5);
        var model = new SyntheticModel(spec, 4);
        Assert.Equal(11.5, spec.MeanSparsity);
        Assert.All(model.Frequencies, f => Assert.Equal(11.5 / 128, f, 12));
        var stream = model.OpenStream(1);
        var x = new float[42];
        const int tokens = 20_000;
        int many = 0;
        var counts = new int[128];
        for (int t = 0; t < tokens; t++)
        {
            int c = stream.NextToken(x);
            Assert.True(c is 3 or 20, $"token with {c} features");
            Assert.Equal(c, stream.ActiveFeatures.ToArray().Distinct().Count());
            if (c == 20) many++;
            foreach (var i in stream.ActiveFeatures) counts[i]++;
        }
        double sigma = Math.Sqrt(0.25 / tokens);
        Assert.InRange(many / (double)tokens, 0.5 - 5 * sigma, 0.5 + 5 * sigma);
        double f = 11.5 / 128;
        Assert.All(counts, c => Assert.InRange(c / (double)tokens, f - 0.015, f + 0.015));
    }

    [Fact]
    public void WithoutAMixtureTheStreamIsUnchangedAndBadMixturesAreRejected()
    {
        var plain = new SyntheticModel(new SyntheticSpec(Features: 64, Dim: 8), 2).OpenStream(1);
        var explicitNone = new SyntheticModel(new SyntheticSpec(Features: 64, Dim: 8, MixSparsity: 0, MixFraction: 0.9), 2).OpenStream(1);
        var a = new float[8 * 100];
        var b = new float[8 * 100];
        plain.NextBatch(a, 100);
        explicitNone.NextBatch(b, 100);
        Assert.Equal(a, b);
        Assert.Throws<ArgumentException>(() => new SyntheticSpec(Features: 10, MixSparsity: 11).Validate());
        Assert.Throws<ArgumentException>(() => new SyntheticSpec(MixSparsity: 5, MixFraction: 1.5).Validate());
        Assert.Throws<ArgumentException>(() => new SyntheticSpec(MixSparsity: 5, Profile: FrequencyProfile.PowerLaw).Validate());
    }
}
