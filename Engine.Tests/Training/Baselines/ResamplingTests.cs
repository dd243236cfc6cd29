using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Rng;
using GbaEngine.Synthetic;
using GbaEngine.Training;
using GbaEngine.Training.Baselines;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>
/// Resampling of dead latents (L1, JumpReLU-L0): only the dead latents' rows, scales, biases and AdamW
/// moments change; the moments are reset to 0; each resampled latent points at one of the batch's
/// tokens, drawn by its error, with unit decoder norm and 0.2× the live encoder norm (in each form);
/// and the trainer runs it on its schedule only.
/// </summary>
public class ResamplingTests
{
    const int D = 8, M = 12, Rows = 10;

    static (SaeParameters P, SaeParameters M1, SaeParameters M2, AlignedArray X, AlignedArray Err) Random(bool tied, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        var p = new SaeParameters(D, M, tied);
        var m1 = p.CloneShape();
        var m2 = p.CloneShape();
        foreach (var buffer in new[] { p, m1, m2 })
        {
            var s = buffer.Data.Span;
            for (int i = 0; i < s.Length; i++) s[i] = (float)rng.NextGaussian();
            for (int m = 0; m < M; m++)
            {
                buffer.DecoderRow(m)[D..].Clear();
                if (!tied) buffer.EncoderRow(m)[D..].Clear();
            }
            buffer.PreBias[D..].Clear();
        }
        var x = new AlignedArray((long)Rows * p.Stride);
        var err = new AlignedArray((long)Rows * p.Stride);
        for (int t = 0; t < Rows; t++)
            for (int j = 0; j < D; j++) { x.Span[t * p.Stride + j] = (float)rng.NextGaussian(); err.Span[t * p.Stride + j] = (float)rng.NextGaussian(); }
        return (p, m1, m2, x, err);
    }

    static double Norm(ReadOnlySpan<float> v) => Math.Sqrt(v.ToArray().Sum(f => (double)f * f));

    [Theory]
    [InlineData(true, true)]      // L1 tied: rows free
    [InlineData(false, true)]     // L1 untied
    [InlineData(true, false)]     // JumpReLU-L0 tied: rows on the sphere
    [InlineData(false, false)]    // JumpReLU-L0 untied
    public void TouchesOnlyDeadLatentsAndResetsTheirMoments(bool tied, bool freeRows)
    {
        var (p, m1, m2, x, err) = Random(tied, 11);
        var before = (P: p.Data.Span.ToArray(), M1: m1.Data.Span.ToArray(), M2: m2.Data.Span.ToArray());
        int[] dead = [1, 4, 5, 9];
        var live = Enumerable.Range(0, M).Except(dead).ToArray();
        double rho = live.Average(m => Norm(p.EncoderRow(m)[..D]));
        const float bias = -0.003f;
        var resampling = new DeadLatentResampling(p, m1, m2, Rows, seed: 3, freeRows, bias);

        Assert.Equal(4, resampling.Resample(x, err, Rows, dead, step: 100));

        var (after, a1, a2) = (p.Data.Span.ToArray(), m1.Data.Span.ToArray(), m2.Data.Span.ToArray());
        var touched = new HashSet<long>();
        foreach (int m in dead)
        {
            foreach (var (offset, length) in Slots(p, m)) for (long i = offset; i < offset + length; i++) touched.Add(i);
            Assert.All(Slots(p, m), s => { Assert.All(a1.AsSpan((int)s.Offset, s.Length).ToArray(), v => Assert.Equal(0f, v)); Assert.All(a2.AsSpan((int)s.Offset, s.Length).ToArray(), v => Assert.Equal(0f, v)); });
            Assert.Equal(bias, p.Bias[m]);

            // Unit decoder norm |a|·‖w‖, encoder norm 0.2ρ, or (tied rows on the sphere) a gain of 0.2ρ in a.
            double wNorm = Norm(p.DecoderRow(m)), encNorm = Norm(p.EncoderRow(m)), a = p.Scale[m];
            if (tied && !freeRows)
            {
                Assert.Equal(1, wNorm, 5);
                Assert.Equal(0.2 * rho, a, 5);
            }
            else
            {
                Assert.Equal(1, Math.Abs(a) * wNorm, 5);
                Assert.Equal(0.2 * rho, encNorm, 5);
            }
            // The direction is one of the batch's tokens.
            var dir = p.DecoderRow(m)[..D].ToArray();
            Assert.Contains(Enumerable.Range(0, Rows), t =>
            {
                var v = x.Span.Slice(t * p.Stride, D).ToArray();
                double cos = v.Zip(dir, (u, w) => (double)u * w).Sum() / Norm(v) / Norm(dir);
                return cos > 1 - 1e-5;
            });
        }
        for (int i = 0; i < after.Length; i++)
        {
            if (touched.Contains(i)) continue;
            Assert.Equal(before.P[i], after[i]);
            Assert.Equal(before.M1[i], a1[i]);
            Assert.Equal(before.M2[i], a2[i]);
        }
        // Distinct tokens for distinct latents.
        Assert.Equal(dead.Length, dead.Select(m => string.Join(",", p.DecoderRow(m)[..D].ToArray().Select(v => MathF.Round(v, 4)))).Distinct().Count());
    }

    /// <summary>The slots of latent m in the flat layout: decoder row, encoder row (untied), a, b.</summary>
    static IEnumerable<(long Offset, int Length)> Slots(SaeParameters p, int m)
    {
        yield return (p.DecoderOffset + (long)m * p.Stride, p.Stride);
        if (!p.Tied) yield return (p.EncoderOffset + (long)m * p.Stride, p.Stride);
        yield return (p.ScaleOffset + m, 1);
        yield return (p.BiasOffset + m, 1);
    }

    [Fact]
    public void MoreDeadThanTokensResamplesTheFirstOnesAndTokensAreDrawnByTheirError()
    {
        var (p, m1, m2, x, err) = Random(false, 12);
        // Only token 6 has an error: the first draw must be it.
        err.Span.Clear();
        err.Span[6 * p.Stride] = 2f;
        var resampling = new DeadLatentResampling(p, m1, m2, Rows, seed: 3, freeRows: true, bias: 0f);
        int[] dead = Enumerable.Range(0, M).ToArray();
        var untouched = p.DecoderRow(11).ToArray();
        Assert.Equal(Rows, resampling.Resample(x, err, Rows, dead, step: 7));
        var v = x.Span.Slice(6 * p.Stride, D).ToArray();
        double n = Norm(v);
        for (int j = 0; j < D; j++) Assert.Equal(v[j] / n, p.DecoderRow(0)[j], 5);
        Assert.True(p.DecoderRow(11).SequenceEqual(untouched), "latents past the batch's size wait for the next resampling");
        Assert.Equal(0, resampling.Resample(x, err, Rows, [], step: 8));
    }

    static TrainerOptions L1Options(int resampleEvery) => new()
    {
        Method = TrainingMethod.L1, L1Coefficient = 1.0, L1Warmup = 0, LearningRate = 0.02, Neurons = 96, BatchSize = 64, Tokens = 64 * 60, Threads = 1,
        InitTokens = 256, EvalEvery = 0, Seed = 4, ResampleEvery = resampleEvery,
    };

    [Fact]
    public void TheTrainerResamplesOnItsScheduleOnlyAndIsOffByDefault()
    {
        var spec = new SyntheticSpec(Features: 48, Dim: 16, Sparsity: 2);
        var model = new SyntheticModel(spec, 2);
        Assert.Equal(0, new TrainerOptions().ResampleEvery);
        using (var off = new SaeTrainer(L1Options(0), spec.Dim))
        {
            Assert.Null(off.Resampling);
            Assert.Null(off.DeadLatents);
        }
        var o = L1Options(10);
        Assert.Equal(64 * 10 / 2, o.ResolvedDeadTokens);   // dictionary_learning: dead after half the interval
        using var trainer = new SaeTrainer(o, spec.Dim);
        using var s = model.OpenStream(1);
        trainer.Initialize(s);
        long total = 0;
        for (int t = 1; t <= 60; t++)
        {
            trainer.TrainStep(s);
            if (t % 10 != 0) Assert.Equal(total, trainer.Resampling!.Total);
            total = trainer.Resampling!.Total;
        }
        long resampled = total;
        Assert.True(resampled > 0, "λ = 1 at lr 0.02 kills latents; none was resampled");
        Assert.Contains("--resample-every applies to", Assert.Throws<ArgumentException>(() => (o with { Method = TrainingMethod.TopK }).Validate()).Message);
        Assert.Contains("--resample-every must be non-negative", Assert.Throws<ArgumentException>(() => (o with { ResampleEvery = -1 }).Validate()).Message);
    }
}
