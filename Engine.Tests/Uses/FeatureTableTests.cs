using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Uses;

namespace GbaEngine.Tests.Uses;

/// <summary>
/// The streaming feature table against a brute-force float64 recomputation from every activation held in
/// memory: counts, frequency, max, mean, top-k (ties to the earlier token) and, when the reservoir holds
/// every firing, the exact quantile examples; a smaller reservoir still yields real activations in order.
/// Contexts against windows cut by hand from the token list.
/// </summary>
public class FeatureTableTests
{
    public sealed record Case(int Tokens, int Features, int MaxActive, int TopK, int Quantiles, bool Quantised, ulong Seed);

    static Gen<Case> Cases =>
        from tokens in Gen.OneOf(Gen.Choose(0, 30), Gen.Choose(500, 3000))
        from features in Gen.OneOf(Gen.Choose(1, 8), Gen.Choose(30, 120))
        from maxActive in Gen.Choose(0, 12)
        from topK in Gen.Choose(1, 9)
        from quantiles in Gen.Choose(0, 11)
        from quantised in Gen.Elements(true, false)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(tokens, features, maxActive, topK, quantiles, quantised, (ulong)seed);

    [Fact]
    public void TableEqualsBruteForceWhenTheReservoirHoldsEveryFiring() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var codes = RandomCodes.Tokens(c.Tokens, c.Features, c.MaxActive, c.Quantised, c.Seed);
            var options = new FeatureTableOptions { TopK = c.TopK, Quantiles = c.Quantiles, ReservoirSize = Math.Max(Math.Max(1, c.Quantiles), c.Tokens) };
            var table = Build(codes, c.Features, options);
            Assert.Equal(c.Tokens, table.Tokens);
            var hist = new int[15];
            for (int m = 0; m < c.Features; m++)
            {
                var all = Activations(codes, m);   // strongest first, ties by row
                var f = table.Features[m];
                Assert.Equal(m, f.Index);
                Assert.Equal(all.Count, f.Fires);
                Assert.Equal(c.Tokens == 0 ? 0 : (double)all.Count / c.Tokens, f.Frequency);
                Assert.Equal(all.Count == 0 ? 0 : all.Max(a => a.Value), f.Max);
                Assert.Equal(all.Count == 0 ? 0 : all.Sum(a => (double)a.Value) / all.Count, f.Mean, 12);
                Assert.Equal(all.Take(c.TopK).ToArray(), f.Top.Select(e => (e.Row, e.Value)).ToArray());
                int q = Math.Min(c.Quantiles, all.Count);
                var expected = Enumerable.Range(0, q)
                    .Select(j => all[all.Count - 1 - Math.Min(all.Count - 1, (int)Math.Floor((j + 0.5) / q * all.Count))]).ToArray();
                Assert.Equal(expected, f.Quantiles.Select(e => (e.Row, e.Value)).ToArray());
                if (all.Count <= c.Quantiles) Assert.Equal(all.OrderBy(a => a.Value).ThenByDescending(a => a.Row), expected);
                Assert.All(f.Quantiles.Select((e, j) => (e, j)), p => Assert.Equal((p.j + 0.5) / q, p.e.Quantile!.Value, 15));
                if (all.Count > 0) hist[Math.Clamp((int)Math.Floor((Math.Log10((double)all.Count / c.Tokens) + 7) / 0.5), 0, 14)]++;
            }
            Assert.Equal(hist, table.FrequencyHistogram);
            Assert.Equal(Enumerable.Range(0, c.Features).Count(m => Activations(codes, m).Count == 0), table.Dead);
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(60));

    [Fact]
    public void ASmallReservoirGivesRealActivationsWeakToStrongAndIsSeeded()
    {
        var codes = RandomCodes.Tokens(20_000, 20, 6, quantised: false, seed: 5);
        var options = new FeatureTableOptions { TopK = 5, Quantiles = 8, ReservoirSize = 32, Seed = 11 };
        var table = Build(codes, 20, options);
        var again = Build(codes, 20, options);
        var other = Build(codes, 20, options with { Seed = 12 });
        bool differs = false;
        for (int m = 0; m < 20; m++)
        {
            var f = table.Features[m];
            Assert.True(f.Fires > 32, $"feature {m} fires only {f.Fires} times: the test wants a full reservoir");
            Assert.Equal(8, f.Quantiles.Count);
            foreach (var e in f.Quantiles)
            {
                var (idx, val) = codes[e.Row];
                Assert.Equal(val[Array.IndexOf(idx, m)], e.Value);
            }
            Assert.True(f.Quantiles.Zip(f.Quantiles.Skip(1)).All(p => p.First.Value <= p.Second.Value), "quantiles go from weak to strong");
            Assert.Equal(f.Quantiles.Select(e => e.Row), again.Features[m].Quantiles.Select(e => e.Row));
            differs |= !f.Quantiles.Select(e => e.Row).SequenceEqual(other.Features[m].Quantiles.Select(e => e.Row));
        }
        Assert.True(differs, "another seed draws another sample");
        // The sample is uniform: its median sits near the median of all activations (values are uniform on [0, 3]).
        var medians = table.Features.Select(f => (double)f.Quantiles[3].Value + f.Quantiles[4].Value).Select(v => v / 2).ToArray();
        Assert.InRange(medians.Average(), 1.3, 1.7);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public void ContextsAreWindowsWithinTheSentence(int window)
    {
        var rng = new Rng.Xoshiro256(3);
        int tokens = 400;
        var sentence = new int[tokens];
        for (int t = 1; t < tokens; t++) sentence[t] = sentence[t - 1] + (rng.NextInt(5) == 0 ? 1 : 0);
        var piece = Enumerable.Range(0, tokens).Select(t => (t % 3 == 0 ? "\u2581w" : "p") + t).ToArray();
        string path = Path.Combine(Path.GetTempPath(), $"gba-ctx-{Guid.NewGuid():N}.tsv");
        File.WriteAllLines(path, new[] { "row\tsentence\tpiece" }.Concat(Enumerable.Range(0, tokens).Select(t => $"{t}\t{sentence[t]}\t{piece[t]}")));
        try
        {
            var codes = RandomCodes.Tokens(tokens, 12, 4, quantised: true, seed: 9);
            var table = Build(codes, 12, new FeatureTableOptions { TopK = 6, Quantiles = 4 });
            Assert.Equal(tokens, table.AttachContexts(path, window));
            foreach (var e in table.Features.SelectMany(f => f.Top.Concat(f.Quantiles)))
            {
                long r = e.Row;
                var rows = Enumerable.Range(0, tokens).Where(t => sentence[t] == sentence[r] && Math.Abs(t - r) <= window).ToArray();
                var ctx = e.Context!;
                Assert.Equal(sentence[r], ctx.Sentence);
                Assert.Equal(rows.Select(t => piece[t].Replace('\u2581', ' ')), ctx.Tokens);
                Assert.Equal(Array.IndexOf(rows, (int)r), ctx.FiringIndex);
            }
            var longer = Build(RandomCodes.Tokens(tokens + 1, 12, 4, quantised: true, seed: 9), 12, new FeatureTableOptions());
            var ex = Assert.Throws<InvalidDataException>(() => longer.AttachContexts(path, window));
            Assert.Contains(path, ex.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BadInputIsRefused()
    {
        var b = new FeatureTableBuilder(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Add([4], [1f]));
        Assert.Throws<ArgumentException>(() => b.Add([1], [float.NaN]));
        Assert.Throws<ArgumentException>(() => b.Add([1, 2], [1f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FeatureTableBuilder(4, new FeatureTableOptions { Quantiles = 10, ReservoirSize = 5 }));
    }

    static FeatureTable Build((int[] Indices, float[] Values)[] codes, int features, FeatureTableOptions options)
    {
        var b = new FeatureTableBuilder(features, options);
        foreach (var (i, v) in codes) b.Add(i, v);
        return b.Build();
    }

    static List<(long Row, float Value)> Activations((int[] Indices, float[] Values)[] codes, int m)
    {
        var all = new List<(long Row, float Value)>();
        for (int t = 0; t < codes.Length; t++)
        {
            int at = Array.IndexOf(codes[t].Indices, m);
            if (at >= 0) all.Add((t, codes[t].Values[at]));
        }
        return all.OrderByDescending(a => a.Value).ThenBy(a => a.Row).ToList();
    }
}
