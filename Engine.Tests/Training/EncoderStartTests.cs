using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Tests.Training;

/// <summary>
/// How the weights start: untied TopK and BatchTopK take the peers' start (sparsify's SparseCoder: torch's nn.Linear
/// draws the encoder, entries U(−1/√d, 1/√d); the decoder is those rows at unit norm), everything else the unit-norm
/// Gaussian rows, shared (tied) or copied into the encoder (untied).
/// </summary>
[Trait("Category", "Kernels")]
public class EncoderStartTests
{
    const int D = 42, M = 512;
    static readonly SyntheticSpec Spec = new(Features: 128, Dim: D, Sparsity: 3);

    static SaeParameters Start(TrainingMethod method, bool tied, ulong seed = 1)
    {
        var o = new TrainerOptions { Method = method, Tied = tied, Neurons = M, BatchSize = 64, Tokens = 64, Threads = 1, InitTokens = 512,
            EvalEvery = 0, Groups = 2, K = 3, Seed = seed };
        using var trainer = new SaeTrainer(o, D);
        trainer.Initialize(new SyntheticModel(Spec, 1).OpenStream(1));
        var p = new SaeParameters(D, M, tied);
        p.CopyFrom(trainer.Model.Parameters);
        return p;
    }

    static double Norm(ReadOnlySpan<float> row)
    {
        double s = 0;
        foreach (float v in row) s += (double)v * v;
        return Math.Sqrt(s);
    }

    [Theory]
    [InlineData(TrainingMethod.TopK)]
    [InlineData(TrainingMethod.BatchTopK)]
    public void UntiedTopKEncoderStartsAtTheLinearLayersScaleAndTheDecoderIsItsDirection(TrainingMethod method)
    {
        Assert.Equal(EncoderStart.Linear, new TrainerOptions { Method = method, Tied = false }.ResolvedEncoderStart);
        var p = Start(method, tied: false);
        double bound = 1 / Math.Sqrt(D);
        var norms = new double[M];
        var bins = new int[4];           // quarters of [−bound, bound]
        double sum = 0, sum2 = 0;
        for (int m = 0; m < M; m++)
        {
            var enc = p.EncoderRow(m);
            var dec = p.DecoderRow(m);
            Assert.All(enc[D..].ToArray(), v => Assert.Equal(0f, v));     // padding
            Assert.All(dec[D..].ToArray(), v => Assert.Equal(0f, v));
            norms[m] = Norm(enc[..D]);
            Assert.Equal(1.0, Norm(dec[..D]), 5);
            for (int j = 0; j < D; j++)
            {
                double v = enc[j];
                Assert.InRange(v, -bound, bound);
                Assert.Equal(v / norms[m], dec[j], 1e-6);
                bins[Math.Min(3, (int)((v + bound) / (2 * bound) * 4))]++;
                sum += v;
                sum2 += v * v;
            }
            Assert.Equal(1f, p.Scale[m]);
            Assert.Equal(0f, p.Bias[m]);
        }
        // U(−c, c) has variance c²/3, so a row of d entries has squared norm d·c²/3 = 1/3 with sd √(4/(45d)) ≈ 0.046.
        long n = (long)M * D;
        double mean = sum / n, var = sum2 / n;
        Assert.InRange(mean, -0.01 * bound, 0.01 * bound);        // sd of the mean: bound/√(3n) ≈ 0.004·bound
        Assert.InRange(var * 3 / (bound * bound), 0.98, 1.02);    // sd ≈ 0.005
        foreach (int b in bins) Assert.InRange(b, 0.24 * n, 0.26 * n);   // sd ≈ 0.003·n
        double meanNorm = norms.Average();
        Assert.InRange(meanNorm, 0.57, 0.585);                    // E‖u‖ ≈ √(1/3) − a little
        Assert.InRange(norms.Min(), 0.35, 0.577);
        Assert.InRange(norms.Max(), 0.577, 0.8);
    }

    [Theory]
    [InlineData(TrainingMethod.TopK, false)]
    [InlineData(TrainingMethod.TopK, true)]
    [InlineData(TrainingMethod.Gba, false)]
    public void TheStartIsDeterministicPerSeed(TrainingMethod method, bool tied)
    {
        var a = Start(method, tied, seed: 3);
        var b = Start(method, tied, seed: 3);
        var c = Start(method, tied, seed: 4);
        Assert.True(a.Encoder.SequenceEqual(b.Encoder) && a.Decoder.SequenceEqual(b.Decoder) && a.PreBias.SequenceEqual(b.PreBias));
        Assert.False(a.Encoder.SequenceEqual(c.Encoder));
    }

    [Theory]
    [InlineData(TrainingMethod.TopK, true)]
    [InlineData(TrainingMethod.Gba, true)]
    [InlineData(TrainingMethod.Gba, false)]
    [InlineData(TrainingMethod.L1, false)]
    [InlineData(TrainingMethod.JumpReluL0, false)]
    public void EveryOtherStartKeepsTheUnitDecoderRowsAsItsEncoder(TrainingMethod method, bool tied)
    {
        Assert.Equal(EncoderStart.Decoder, new TrainerOptions { Method = method, Tied = tied }.ResolvedEncoderStart);
        var p = Start(method, tied);
        for (int m = 0; m < M; m++)
        {
            Assert.Equal(1.0, Norm(p.DecoderRow(m)[..D]), 5);
            Assert.True(p.EncoderRow(m).SequenceEqual(p.DecoderRow(m)));
        }
        // Gaussian rows: the largest of the 21,504 |w_j| is near 4.2/√42 ≈ 0.65, where the linear start's directions stay
        // below bound / (smallest ‖u‖) ≈ 0.44.
        double largest = 0;
        foreach (float v in p.Decoder) largest = Math.Max(largest, Math.Abs(v));
        Assert.True(largest > 0.5, $"largest |w_j| = {largest}");
    }

    [Fact]
    public void TheChoiceOverridesTheMethodsStartAndTravelsThroughTheOptionsJson()
    {
        var o = new TrainerOptions { Method = TrainingMethod.TopK, Tied = false, EncoderStart = EncoderStart.Decoder };
        Assert.Equal(EncoderStart.Decoder, o.ResolvedEncoderStart);
        Assert.Equal(EncoderStart.Linear, (new TrainerOptions { Method = TrainingMethod.Gba, Tied = false, EncoderStart = EncoderStart.Linear }).ResolvedEncoderStart);
        var json = TrainerOptionsJson.Write(o);
        Assert.Equal("\"decoder\"", json["encoder_start"]!.ToJsonString());
        Assert.Equal(EncoderStart.Decoder, TrainerOptionsJson.Read(json, "test").EncoderStart);
        // A checkpoint written before the option existed has no key: null, the method's start.
        json.Remove("encoder_start");
        Assert.Null(TrainerOptionsJson.Read(json, "test").EncoderStart);
        Assert.Contains("encoder_start", string.Join(";", TrainerOptionsJson.Differences(o, o with { EncoderStart = null })));
        Assert.Contains("EncoderStart", Assert.Throws<ArgumentException>(() => new TrainerOptions { EncoderStart = EncoderStart.Linear }.Validate()).Message);
    }

    [Fact]
    public void AnUntiedDecoderStartIsTheUnitRowsCopiedAsBeforeTheLinearStartExisted()
    {
        var o = new TrainerOptions { Method = TrainingMethod.TopK, Tied = false, EncoderStart = EncoderStart.Decoder, Neurons = M, BatchSize = 64,
            Tokens = 64, Threads = 1, InitTokens = 512, EvalEvery = 0, K = 3 };
        using var trainer = new SaeTrainer(o, D);
        trainer.Initialize(new SyntheticModel(Spec, 1).OpenStream(1));
        var p = trainer.Model.Parameters;
        Assert.True(p.Encoder.SequenceEqual(p.Decoder));
        // The tied start draws the same unit rows from the same seed.
        var tied = Start(TrainingMethod.TopK, tied: true);
        Assert.True(tied.Decoder.SequenceEqual(p.Decoder));
    }

    [Fact]
    public void TopKAndBatchTopKAreUntiedUnlessToldAndEveryOtherMethodTied()
    {
        foreach (var method in Enum.GetValues<TrainingMethod>())
        {
            bool peersUntied = method is TrainingMethod.TopK or TrainingMethod.BatchTopK;
            Assert.Equal(!peersUntied, new TrainerOptions { Method = method }.Tied);
            Assert.Equal(!peersUntied, (new TrainerOptions() with { Method = method }).Tied);     // follows the method until set
            Assert.True((new TrainerOptions { Method = method, Tied = true }).Tied);
            Assert.False((new TrainerOptions { Tied = false } with { Method = method }).Tied);
            var json = TrainerOptionsJson.Write(new TrainerOptions { Method = method });
            Assert.Equal(!peersUntied, TrainerOptionsJson.Read(json, "test").Tied);
        }
        Assert.Equal(EncoderStart.Linear, new TrainerOptions { Method = TrainingMethod.TopK }.ResolvedEncoderStart);
    }
}
