using GbaEngine.Checkpoints;
using GbaEngine.Kernels;
using GbaEngine.Metrics;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// A trainer state reached by training <c>steps</c> steps on the suite's synthetic data, always with
/// the best kernel set this CPU has, then handed to trainers built on the kernel set under test
/// (<see cref="SaeTrainer.Restore"/>). So a run forced to the scalar kernels measures the very state
/// an AVX-512 run measures (a GBA trainer's L0 falls from ~2.5% of M to ~0.5% while it warms up, and
/// the sparse passes scale with L0), and does not spend minutes reaching it with scalar kernels.
/// </summary>
internal sealed class WarmState
{
    public WarmState(TrainerOptions options, int dim, SyntheticSpec spec, int steps)
    {
        Steps = steps;
        var warm = options with { Tokens = (long)steps * options.BatchSize, EvalEvery = 0 };
        var previous = KernelSelector.Current;
        KernelSelector.Force(KernelSelector.Best);
        try
        {
            using var data = new SyntheticModel(spec, SuiteShape.DataSeed).OpenStream(1);
            var eval = EvaluationSet.FromStream(new SyntheticModel(spec, SuiteShape.DataSeed).OpenStream(2), 256);
            using var trainer = new SaeTrainer(warm, dim);
            var sink = new CopyingSink();
            var observer = new L0Observer();
            trainer.Train(data, eval, observer, checkpoints: new CheckpointSchedule(sink, EverySteps: 0));
            Checkpoint = sink.Last ?? throw new InvalidOperationException("The warm-up wrote no checkpoint.");
            (FirstL0, L0) = (observer.First, observer.Last);
        }
        finally
        {
            KernelSelector.Force(previous);   // the set under test again
        }
    }

    /// <summary>The state after the warm-up, owning its arrays.</summary>
    public TrainingCheckpoint Checkpoint { get; }
    public int Steps { get; }
    /// <summary>Batch L0 of the first and of the last warm-up step.</summary>
    public double FirstL0 { get; }
    public double L0 { get; }

    /// <summary>Keeps a copy of the last checkpoint: the trainer hands over its live buffers.</summary>
    sealed class CopyingSink : ICheckpointSink
    {
        public TrainingCheckpoint? Last { get; private set; }

        public void Save(TrainingCheckpoint c) => Last = new TrainingCheckpoint
        {
            Options = c.Options, Dim = c.Dim, Step = c.Step, Tokens = c.Tokens, Seconds = c.Seconds, InputScale = c.InputScale,
            Parameters = c.Parameters.ToArray(), Moment1 = c.Moment1.ToArray(), Moment2 = c.Moment2.ToArray(),
            FireCount = c.FireCount.ToArray(), MaxY = c.MaxY.ToArray(), StatisticsTokens = c.StatisticsTokens,
            GroupOf = c.GroupOf.ToArray(), Stream = c.Stream, Evaluations = [.. c.Evaluations], Kernels = c.Kernels,
            BaselineState = c.BaselineState?.DeepClone().AsObject(), Application = null,
        };
    }

    sealed class L0Observer : ITrainingObserver
    {
        public double First { get; private set; } = double.NaN;
        public double Last { get; private set; }

        public void OnStep(in StepReport report)
        {
            if (double.IsNaN(First)) First = report.L0;
            Last = report.L0;
        }
    }
}
