using GbaEngine.Evaluation;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>Each baseline trains end to end through the shared trainer on a small synthetic problem.</summary>
[Trait("Category", "Kernels")]
public class BaselineTrainingTests
{
    sealed class Recorder : ITrainingObserver
    {
        public readonly List<StepReport> Steps = [];
        public void OnStep(in StepReport report) => Steps.Add(report);
    }

    static readonly SyntheticSpec Small = new(Features: 64, Dim: 24, Sparsity: 2);

    static TrainerOptions Options(TrainingMethod method, bool tied = true) => new()
    {
        Method = method, Tied = tied, Neurons = 128, BatchSize = 64, Tokens = 64 * 400, Threads = 2, InitTokens = 512,
        EvalEvery = 0, LearningRate = 3e-3, K = 2, L1Coefficient = 0.05, L0Coefficient = 0.002, SteBandwidth = 0.01,
    };

    static (TrainingResult Result, Recorder Steps) Run(TrainerOptions o, SyntheticSpec spec, ulong seed = 1)
    {
        var model = new SyntheticModel(spec, seed);
        var eval = EvaluationSet.FromStream(model.OpenStream(2), 2048, model.Features, model.Frequencies);
        using var trainer = new SaeTrainer(o with { Seed = seed }, spec.Dim);
        var steps = new Recorder();
        return (trainer.Train(model.OpenStream(1), eval, steps), steps);
    }

    [Theory]
    [InlineData(TrainingMethod.L1, true)]
    [InlineData(TrainingMethod.L1, false)]
    [InlineData(TrainingMethod.BatchTopK, true)]
    [InlineData(TrainingMethod.BatchTopK, false)]
    [InlineData(TrainingMethod.JumpReluL0, true)]
    [InlineData(TrainingMethod.JumpReluL0, false)]
    public void TrainsWithoutNaNAndTheLossGoesDown(TrainingMethod method, bool tied)
    {
        var (r, steps) = Run(Options(method, tied), Small);
        Assert.All(steps.Steps, s => Assert.True(double.IsFinite(s.Loss), $"step {s.Step}: loss {s.Loss}"));
        double first = steps.Steps.Take(20).Average(s => s.Loss), last = steps.Steps.TakeLast(20).Average(s => s.Loss);
        Assert.True(last < 0.5 * first, $"loss {first} over the first 20 steps, {last} over the last 20");
        foreach (var v in r.Model.Parameters.Data.Span) Assert.True(float.IsFinite(v));
        Assert.True(r.Final.Fvu < 0.6, $"FVU {r.Final.Fvu}");
        Assert.True(r.Final.L0 > 0.5 && r.Final.L0 < 128 / 4, $"L0 {r.Final.L0}");   // a random ReLU/JumpReLU start fires half of M
    }

    [Theory]
    [InlineData(TrainingMethod.L1)]
    [InlineData(TrainingMethod.JumpReluL0)]
    public void ALargerPenaltyGivesASparserCode(TrainingMethod method)
    {
        var o = Options(method);
        var (none, _) = Run(o with { L1Coefficient = 0, L0Coefficient = 0 }, Small);
        var (some, _) = Run(o, Small);
        var (more, _) = Run(o with { L1Coefficient = 4 * o.L1Coefficient, L0Coefficient = 4 * o.L0Coefficient }, Small);
        Assert.True(none.Final.L0 > some.Final.L0 && some.Final.L0 > more.Final.L0,
            $"L0 {none.Final.L0} without the penalty, {some.Final.L0} with it, {more.Final.L0} with 4x");
        Assert.True(none.Final.Fvu < more.Final.Fvu, $"FVU {none.Final.Fvu} without the penalty, {more.Final.Fvu} with 4x");
    }

    [Fact]
    public void BatchTopKKeepsKPerTokenOnAverageAndInfersWithItsThreshold()
    {
        var (r, steps) = Run(Options(TrainingMethod.BatchTopK), Small);
        Assert.All(steps.Steps, s => Assert.Equal(2.0, s.L0));     // exactly k·B per batch, every step
        float theta = r.Model.Architecture.ReluThreshold;
        Assert.True(theta > 0, "the inference threshold was published");
        // Evaluated with the threshold alone, L0 lands near k (the threshold estimates the k·B-th value).
        Assert.InRange(r.Final.L0, 1.0, 4.0);
    }

    [Fact]
    public void L1LeavesDecoderRowsFreeAndOthersKeepThemUnit()
    {
        var (l1, _) = Run(Options(TrainingMethod.L1), Small);
        var (jump, _) = Run(Options(TrainingMethod.JumpReluL0), Small);
        static double[] Norms(TrainingResult r) => Enumerable.Range(0, r.Model.Neurons)
            .Select(m => Math.Sqrt(r.Model.Parameters.DecoderRow(m).ToArray().Sum(v => (double)v * v))).ToArray();
        Assert.Contains(Norms(l1), n => Math.Abs(n - 1) > 1e-2);
        Assert.All(Norms(jump), n => Assert.Equal(1.0, n, 4));
        Assert.All(jump.Model.Parameters.Bias.ToArray(), b => Assert.True(b <= 0));
    }

    [Theory]
    [InlineData(TrainingMethod.L1)]
    [InlineData(TrainingMethod.BatchTopK)]
    [InlineData(TrainingMethod.JumpReluL0)]
    public void SameSeedAndThreadsGiveBitwiseIdenticalWeights(TrainingMethod method)
    {
        var o = Options(method) with { Tokens = 64 * 60 };
        var (a, _) = Run(o, Small);
        var (b, _) = Run(o, Small);
        Assert.True(a.Model.Parameters.Data.Span.SequenceEqual(b.Model.Parameters.Data.Span));
        Assert.Equal(a.Model.Architecture, b.Model.Architecture);
    }

    [Fact]
    public void BatchTopKRecoversFeaturesOnTheStatisticalModel()
    {
        // The GBA recovery test's problem (n = 128, d = 32, s = 3) with k = s.
        var spec = new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3);
        var o = new TrainerOptions { Method = TrainingMethod.BatchTopK, K = 3, Neurons = 512, BatchSize = 256, Tokens = 256L * 2000,
            Threads = 2, LearningRate = 3e-3, EvalEvery = 0, InitTokens = 8192 };
        var (r, _) = Run(o, spec);
        Assert.True(r.Final.Frr08 >= 0.9, $"FRR@0.8 = {r.Final.Frr08}");
    }

    [Theory]
    [InlineData(nameof(TrainerOptions.L1Coefficient), -1.0)]
    [InlineData(nameof(TrainerOptions.L1Warmup), 1.5)]
    [InlineData(nameof(TrainerOptions.L0Coefficient), double.NaN)]
    [InlineData(nameof(TrainerOptions.SteBandwidth), 0.0)]
    [InlineData(nameof(TrainerOptions.ThresholdDecay), 1.0)]
    [InlineData(nameof(TrainerOptions.InitialThreshold), -0.1)]
    public void BadHyperParametersAreOneClearError(string name, double value)
    {
        var o = name switch
        {
            nameof(TrainerOptions.L1Coefficient) => new TrainerOptions { L1Coefficient = value },
            nameof(TrainerOptions.L1Warmup) => new TrainerOptions { L1Warmup = value },
            nameof(TrainerOptions.L0Coefficient) => new TrainerOptions { L0Coefficient = value },
            nameof(TrainerOptions.SteBandwidth) => new TrainerOptions { SteBandwidth = value },
            nameof(TrainerOptions.ThresholdDecay) => new TrainerOptions { ThresholdDecay = value },
            _ => new TrainerOptions { InitialThreshold = value },
        };
        var e = Assert.Throws<ArgumentException>(o.Validate);
        // The library's vocabulary: the property by name, never a gba flag.
        Assert.Equal(name, e.ParamName);
        Assert.Contains($"TrainerOptions.{name}", e.Message);
        Assert.DoesNotContain("--", e.Message);
        Assert.Throws<ArgumentException>(new TrainerOptions { Method = TrainingMethod.BatchTopK, K = 0 }.Validate);
    }
}
