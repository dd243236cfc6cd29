using GbaEngine.Synthetic;
using GbaEngine.Training;
using GbaEngine.Training.Baselines;

namespace GbaEngine.Tests.Training;

/// <summary>The learning-rate schedules against their closed forms, and the trainer applying them.</summary>
public class LearningRateScheduleTests
{
    [Theory]
    // warm-up 0.1 of 100 steps: t/10 up to step 10
    [InlineData(0.1, LearningRateDecay.Constant, 0.8, 1, 0.1)]
    [InlineData(0.1, LearningRateDecay.Constant, 0.8, 5, 0.5)]
    [InlineData(0.1, LearningRateDecay.Constant, 0.8, 10, 1.0)]
    [InlineData(0.1, LearningRateDecay.Constant, 0.8, 100, 1.0)]
    [InlineData(0.0, LearningRateDecay.Constant, 0.8, 1, 1.0)]
    // linear from step 81 (decay-start 0.8 of 100 = 80): 1 − (t − 1 − 80)/20
    [InlineData(0.0, LearningRateDecay.Linear, 0.8, 80, 1.0)]
    [InlineData(0.0, LearningRateDecay.Linear, 0.8, 81, 1.0)]
    [InlineData(0.0, LearningRateDecay.Linear, 0.8, 82, 0.95)]
    [InlineData(0.0, LearningRateDecay.Linear, 0.8, 91, 0.5)]
    [InlineData(0.0, LearningRateDecay.Linear, 0.8, 100, 0.05)]
    // cosine: ½(1 + cos(π(t − 1 − 80)/20))
    [InlineData(0.0, LearningRateDecay.Cosine, 0.8, 81, 1.0)]
    [InlineData(0.0, LearningRateDecay.Cosine, 0.8, 86, 0.85355339059327373)]   // ½(1 + cos(π/4))
    [InlineData(0.0, LearningRateDecay.Cosine, 0.8, 91, 0.5)]
    [InlineData(0.0, LearningRateDecay.Cosine, 0.8, 100, 0.0061558297024311148)] // ½(1 + cos(19π/20))
    // both: warm-up and decay multiply
    [InlineData(0.2, LearningRateDecay.Linear, 0.5, 10, 0.5)]
    [InlineData(0.2, LearningRateDecay.Linear, 0.5, 76, 0.5)]
    [InlineData(0.2, LearningRateDecay.Cosine, 0.0, 1, 0.05)]   // decay from the start, warm-up 0 → its empty window
    public void FactorsFollowTheClosedForms(double warmup, LearningRateDecay decay, double decayStart, long step, double expected)
    {
        var schedule = new LearningRateSchedule(warmup, decay, decayStart);
        if (!(decay != LearningRateDecay.Constant && warmup > decayStart)) schedule.Validate();
        Assert.Equal(expected, schedule.Factor(step, 100), 12);
    }

    [Fact]
    public void L1WarmUpIsTheSameRamp()
    {
        using var pool = new Threading.WorkerPool(1);
        var l1 = new L1Penalty(new Model.SaeParameters(4, 4, true), pool, 2.0, warmup: 0.07);
        for (long t = 1; t <= 300; t += 7)
            Assert.Equal(2.0 * new LearningRateSchedule(0.07, LearningRateDecay.Constant, 0.8).Factor(t, 300), l1.LambdaAt(t, 300), 14);
    }

    [Fact]
    public void BadSchedulesAreOneClearError()
    {
        Assert.Contains("--lr-warmup", Assert.Throws<ArgumentException>(() => new TrainerOptions { LrWarmup = 1.5 }.Validate()).Message);
        Assert.Contains("--lr-decay-start", Assert.Throws<ArgumentException>(() => new TrainerOptions { LrDecayStart = 1 }.Validate()).Message);
        Assert.Contains("must end before", Assert.Throws<ArgumentException>(() =>
            new TrainerOptions { LrWarmup = 0.5, LrSchedule = LearningRateDecay.Linear, LrDecayStart = 0.3 }.Validate()).Message);
        new TrainerOptions { LrWarmup = 0.5, LrDecayStart = 0.3 }.Validate();   // a constant schedule has no decay to collide with
    }

    /// <summary>Every method's AdamW runs at the scheduled rate: the rate each step reports follows the closed form,
    /// and a scheduled first step is bitwise the first step of a constant run at that rate.</summary>
    [Theory]
    [InlineData(TrainingMethod.Gba)]
    [InlineData(TrainingMethod.TopK)]
    [InlineData(TrainingMethod.BatchTopK)]
    [InlineData(TrainingMethod.L1)]
    [InlineData(TrainingMethod.JumpReluL0)]
    [InlineData(TrainingMethod.Mp)]
    public void TheTrainerStepsAtTheScheduledRate(TrainingMethod method)
    {
        var spec = new SyntheticSpec(Features: 48, Dim: 16, Sparsity: 2);
        var model = new SyntheticModel(spec, 3);
        const int steps = 12;
        var scheduled = new TrainerOptions
        {
            Method = method, Neurons = 64, K = 2, BatchSize = 32, Tokens = 32 * steps, Threads = 1, InitTokens = 128, EvalEvery = 0,
            LearningRate = 2e-3, LrWarmup = 0.25, LrSchedule = LearningRateDecay.Cosine, LrDecayStart = 0.5, BufferTokens = 96,
        };
        var schedule = LearningRateSchedule.Of(scheduled);
        using var a = new SaeTrainer(scheduled, spec.Dim);
        using var sa = model.OpenStream(1);
        a.Initialize(sa);
        for (int t = 1; t <= steps; t++)
        {
            a.TrainStep(sa);
            Assert.Equal((float)(scheduled.LearningRate * schedule.Factor(t, steps)), a.LearningRate);
        }

        // Warm-up over half of 4 steps: step 1 runs at half the rate, bitwise as a constant run at half the rate.
        var warm = scheduled with { Tokens = 32 * 4, LrWarmup = 0.5, LrSchedule = LearningRateDecay.Constant };
        Assert.Equal(0.5, LearningRateSchedule.Of(warm).Factor(1, 4));
        using var b = new SaeTrainer(warm, spec.Dim);
        using var c = new SaeTrainer(warm with { LrWarmup = 0, LearningRate = warm.LearningRate * 0.5 }, spec.Dim);
        using var sb = model.OpenStream(1);
        using var sc = model.OpenStream(1);
        b.Initialize(sb);
        c.Initialize(sc);
        var start = b.Model.Parameters.Data.Span.ToArray();
        b.TrainStep(sb);
        c.TrainStep(sc);
        Assert.True(b.Model.Parameters.Data.Span.SequenceEqual(c.Model.Parameters.Data.Span));
        Assert.False(b.Model.Parameters.Data.Span.SequenceEqual(start));
    }
}
