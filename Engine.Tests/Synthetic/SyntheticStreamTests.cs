using GbaEngine.Synthetic;

namespace GbaEngine.Tests.Synthetic;

public class SyntheticStreamTests
{
    [Fact]
    public void FeaturesAreUnitNorm()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 100, Dim: 30), 3);
        for (int i = 0; i < 100; i++)
        {
            double n2 = 0;
            foreach (var v in model.Feature(i)) n2 += v * v;
            Assert.Equal(1.0, n2, 5);
        }
    }

    [Fact]
    public void UniformProfileHasExactSparsityAndFrequencyWithinSamplingError()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 50, Dim: 8, Sparsity: 3), 1);
        var s = model.OpenStream(1);
        var counts = new int[50];
        var x = new float[8];
        const int tokens = 40_000;
        for (int t = 0; t < tokens; t++)
        {
            Assert.Equal(3, s.NextToken(x));
            Assert.Equal(3, s.ActiveFeatures.ToArray().Distinct().Count());
            foreach (var i in s.ActiveFeatures) counts[i]++;
        }
        double f = 3.0 / 50, sigma = Math.Sqrt(f * (1 - f) / tokens);
        Assert.All(counts, c => Assert.InRange(c / (double)tokens, f - 5 * sigma, f + 5 * sigma));
    }

    [Fact]
    public void PowerLawFrequenciesAndMeanSparsityMatchTheirSettings()
    {
        var spec = new SyntheticSpec(Features: 200, Dim: 8, Sparsity: 4, Profile: FrequencyProfile.PowerLaw, Exponent: 1.0);
        var model = new SyntheticModel(spec, 2);
        Assert.Equal(4.0, model.Frequencies.Sum(), 9);
        for (int i = 1; i < 200; i++) Assert.True(model.Frequencies[i] <= model.Frequencies[i - 1]);
        var s = model.OpenStream(1);
        var counts = new int[200];
        var x = new float[8];
        const int tokens = 60_000;
        long total = 0;
        for (int t = 0; t < tokens; t++)
        {
            total += s.NextToken(x);
            foreach (var i in s.ActiveFeatures) counts[i]++;
        }
        Assert.InRange(total / (double)tokens, 4 - 0.05, 4 + 0.05);
        for (int i = 0; i < 200; i++)
        {
            double f = model.Frequencies[i], sigma = Math.Sqrt(f * (1 - f) / tokens);
            Assert.InRange(counts[i] / (double)tokens, f - 5 * sigma - 1e-9, f + 5 * sigma + 1e-9);
        }
    }

    [Fact]
    public void TokensAreTheSumOfActiveFeaturesWithMagnitudesInRange()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 20, Dim: 20, Sparsity: 1), 4);
        var s = model.OpenStream(1);
        var x = new float[20];
        for (int t = 0; t < 100; t++)
        {
            s.NextToken(x);
            int i = s.ActiveFeatures[0];
            double c = 0;
            for (int j = 0; j < 20; j++) c += x[j] * model.Feature(i)[j];
            Assert.InRange(c, 0.5 - 1e-5, 1.5 + 1e-5);
            for (int j = 0; j < 20; j++) Assert.True(Math.Abs(c * model.Feature(i)[j] - x[j]) < 1e-5);
        }
    }

    [Fact]
    public void StreamIsAFunctionOfSeedAndResumesFromItsState()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 30, Dim: 6, Noise: 0.1), 8);
        var a = model.OpenStream(1);
        var first = new float[6 * 50];
        a.NextBatch(first, 50);
        var state = a.State;
        var rest = new float[6 * 50];
        a.NextBatch(rest, 50);

        var b = model.OpenStream(1);
        var again = new float[6 * 50];
        b.NextBatch(again, 50);
        Assert.Equal(first, again);
        var c = model.OpenStream(1);
        c.State = state;
        var resumed = new float[6 * 50];
        c.NextBatch(resumed, 50);
        Assert.Equal(rest, resumed);
        Assert.Equal(100, c.Position);
        var other = model.OpenStream(2);
        var diff = new float[6 * 50];
        other.NextBatch(diff, 50);
        Assert.NotEqual(first, diff);
    }
}
