using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Uses;

namespace GbaEngine.Tests.Uses;

/// <summary>
/// Sample pooling and the inverted-index scoring against a brute-force float64 recomputation on dense codes,
/// for every similarity, aggregation and weighting; ranking and ratio; and the selftest: targets that are
/// corpus samples (their tokens cut out and pooled again) come first.
/// </summary>
public class DataSelectionTests
{
    public sealed record Case(int Samples, int Features, int MaxActive, int Targets, bool Quantised, ulong Seed);

    static Gen<Case> Cases =>
        from samples in Gen.OneOf(Gen.Choose(1, 10), Gen.Choose(100, 600))
        from features in Gen.OneOf(Gen.Choose(1, 6), Gen.Choose(40, 200))
        from maxActive in Gen.Choose(0, 15)
        from targets in Gen.Choose(1, 5)
        from quantised in Gen.Elements(true, false)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(samples, features, maxActive, targets, quantised, (ulong)seed);

    [Fact]
    public void ScoresEqualBruteForce() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var corpus = OnePerSample(RandomCodes.Tokens(c.Samples, c.Features, c.MaxActive, c.Quantised, c.Seed), c.Features);
            var targets = OnePerSample(RandomCodes.Tokens(c.Targets, c.Features, c.MaxActive, c.Quantised, c.Seed + 1), c.Features);
            var a = Dense(corpus);
            var t = Dense(targets);
            foreach (var weighting in Enum.GetValues<FeatureWeighting>())
            {
                var selector = new DataSelector(corpus, weighting);
                var w = Weights(a, c.Features, weighting);
                for (int f = 0; f < c.Features; f++) Assert.Equal(w[f], selector.Weight(f), 14);
                foreach (var similarity in Enum.GetValues<SampleSimilarity>())
                    foreach (var aggregation in Enum.GetValues<TargetAggregation>())
                    {
                        var options = new SelectionOptions { Similarity = similarity, Aggregation = aggregation };
                        var score = selector.Score(targets, options, out long visited);
                        var probes = aggregation == TargetAggregation.Max ? t : [Centroid(t, c.Features)];
                        for (int s = 0; s < c.Samples; s++)
                        {
                            double expected = probes.Max(p => Similarity(a[s], p, w, similarity));
                            Assert.True(Math.Abs(expected - score[s]) <= 1e-12, $"sample {s}: {score[s]} vs {expected} ({similarity}, {aggregation}, {weighting})");
                        }
                        // The index reads exactly the postings of the probes' features.
                        long df(int f) => a.Count(row => row[f] > 0);
                        Assert.Equal(probes.Sum(p => Enumerable.Range(0, c.Features).Where(f => p[f] > 0).Sum(df)), visited);
                        var ranked = selector.Select(targets, c.Samples, options);
                        var order = Enumerable.Range(0, c.Samples).OrderByDescending(s => score[s]).ThenBy(s => s).ToArray();
                        Assert.Equal(order, ranked.Select(r => r.Sample));
                        Assert.Equal(Enumerable.Range(1, c.Samples), ranked.Select(r => r.Rank));
                    }
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(40));

    [Theory]
    [InlineData(SamplePooling.Max)]
    [InlineData(SamplePooling.Sum)]
    [InlineData(SamplePooling.Mean)]
    public void PoolingEqualsBruteForce(SamplePooling pooling)
    {
        var rng = new Rng.Xoshiro256(4);
        var tokens = RandomCodes.Tokens(2000, 30, 8, quantised: false, seed: 21);
        var sentence = new int[tokens.Length];
        for (int i = 1; i < tokens.Length; i++) sentence[i] = sentence[i - 1] + (rng.NextInt(7) == 0 ? 1 + rng.NextInt(3) : 0);
        var b = new SampleCodeBuilder(30, pooling);
        for (int i = 0; i < tokens.Length; i++) b.Add(sentence[i], tokens[i].Indices, tokens[i].Values);
        var codes = b.Build();
        var ids = sentence.Distinct().ToArray();
        Assert.Equal(ids.Length, codes.Count);
        for (int s = 0; s < codes.Count; s++)
        {
            var rows = Enumerable.Range(0, tokens.Length).Where(i => sentence[i] == ids[s]).ToArray();
            Assert.Equal(ids[s], codes.Id(s));
            Assert.Equal(rows[0], codes.FirstRow(s));
            Assert.Equal(rows.Length, codes.TokenCount(s));
            var expected = new SortedDictionary<int, double>();
            foreach (int r in rows)
                for (int j = 0; j < tokens[r].Indices.Length; j++)
                {
                    int f = tokens[r].Indices[j];
                    double v = tokens[r].Values[j];
                    expected[f] = pooling == SamplePooling.Max ? Math.Max(expected.GetValueOrDefault(f), v) : expected.GetValueOrDefault(f) + v;
                }
            Assert.Equal(expected.Keys, codes.Indices(s).ToArray());
            var values = codes.Values(s).ToArray();
            int k = 0;
            foreach (var v in expected.Values)
            {
                double e = pooling == SamplePooling.Mean ? v / rows.Length : v;
                Assert.True(Math.Abs(e - values[k]) <= 1e-5 * Math.Max(1, e), $"sample {s} feature {k}: {values[k]} vs {e}");
                k++;
            }
        }
    }

    [Fact]
    public void SentencesMustBeContiguousAndCodesNonNegative()
    {
        var b = new SampleCodeBuilder(5);
        b.Add(1, [0], [1f]);
        b.Add(2, [1], [1f]);
        Assert.Contains("sentence 1", Assert.Throws<InvalidDataException>(() => b.Add(1, [0], [1f])).Message);
        Assert.Throws<ArgumentException>(() => new SampleCodeBuilder(5).Add(0, [2], [-0.5f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSelector.CountForRatio(0, 10));
        Assert.Equal(3, DataSelector.CountForRatio(0.25, 10));
        Assert.Equal(10, DataSelector.CountForRatio(1, 10));
    }

    [Theory]
    [InlineData(SampleSimilarity.WeightedJaccard, SamplePooling.Max, FeatureWeighting.None)]
    [InlineData(SampleSimilarity.Cosine, SamplePooling.Mean, FeatureWeighting.InverseFrequency)]
    [InlineData(SampleSimilarity.WeightedJaccard, SamplePooling.Sum, FeatureWeighting.InverseFrequency)]
    public void TargetsCutFromTheCorpusRankFirst(SampleSimilarity similarity, SamplePooling pooling, FeatureWeighting weighting)
    {
        var tokens = RandomCodes.Tokens(6000, 400, 10, quantised: false, seed: 77);
        var sentence = Enumerable.Range(0, tokens.Length).Select(i => i / 12).ToArray();
        var corpusBuilder = new SampleCodeBuilder(400, pooling);
        for (int i = 0; i < tokens.Length; i++) corpusBuilder.Add(sentence[i], tokens[i].Indices, tokens[i].Values);
        var corpus = corpusBuilder.Build();
        int[] picked = [3, 141, 222, 404, 499];
        var targetBuilder = new SampleCodeBuilder(400, pooling);
        foreach (int s in picked)
            for (int i = s * 12; i < s * 12 + 12; i++) targetBuilder.Add(sentence[i], tokens[i].Indices, tokens[i].Values);
        var selector = new DataSelector(corpus, weighting);
        var top = selector.Select(targetBuilder.Build(), picked.Length, new SelectionOptions { Similarity = similarity });
        Assert.Equal(picked, top.Select(r => corpus.Id(r.Sample)).Order());
        Assert.All(top, r => Assert.Equal(1.0, r.Score, 12));
    }

    static SampleCodes OnePerSample((int[] Indices, float[] Values)[] codes, int features)
    {
        var b = new SampleCodeBuilder(features);
        for (int i = 0; i < codes.Length; i++) b.Add(i, codes[i].Indices, codes[i].Values);
        return b.Build();
    }

    static double[][] Dense(SampleCodes codes) => Enumerable.Range(0, codes.Count).Select(s =>
    {
        var row = new double[codes.Features];
        var idx = codes.Indices(s);
        var val = codes.Values(s);
        for (int i = 0; i < idx.Length; i++) row[idx[i]] = val[i];
        return row;
    }).ToArray();

    static double[] Weights(double[][] a, int features, FeatureWeighting weighting) => Enumerable.Range(0, features)
        .Select(f => weighting == FeatureWeighting.None ? 1 : Math.Log((1.0 + a.Length) / (1.0 + a.Count(r => r[f] > 0))) + 1).ToArray();

    static double[] Centroid(double[][] t, int features) =>
        Enumerable.Range(0, features).Select(f => (double)(float)(t.Sum(r => r[f]) / t.Length)).ToArray();

    static double Similarity(double[] a, double[] b, double[] w, SampleSimilarity similarity)
    {
        double num = 0, den = 0, na = 0, nb = 0;
        for (int f = 0; f < a.Length; f++)
        {
            num += similarity == SampleSimilarity.WeightedJaccard ? w[f] * Math.Min(a[f], b[f]) : w[f] * w[f] * a[f] * b[f];
            den += w[f] * Math.Max(a[f], b[f]);
            na += w[f] * w[f] * a[f] * a[f];
            nb += w[f] * w[f] * b[f] * b[f];
        }
        if (similarity == SampleSimilarity.WeightedJaccard) return den > 0 ? num / den : 0;
        return na > 0 && nb > 0 ? num / Math.Sqrt(na * nb) : 0;
    }
}
