using System.Text.Json.Nodes;
using GbaEngine.Checkpoints;
using GbaEngine.Evaluation;
using GbaEngine.Kernels;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// A trainer state reached by training <c>steps</c> steps on the suite's synthetic data, always with
/// the best kernel set this CPU has, then handed to trainers built on the kernel set under test
/// (<see cref="SaeTrainer.Restore"/>). So a run forced to the scalar kernels measures the very state
/// an AVX-512 run measures (the sparse passes scale with L0, and L0 depends on the state: a GBA trainer
/// from the default edge bias start settles near 0.04% of M here, one from the quantile start begins
/// near 2.5%), and does not spend minutes reaching it with scalar kernels.
/// </summary>
internal sealed class WarmState
{
    WarmState(TrainingCheckpoint checkpoint, double firstL0, double l0)
    {
        Checkpoint = checkpoint;
        Steps = (int)checkpoint.Step;
        (FirstL0, L0) = (firstL0, l0);
    }

    /// <summary>The state after the warm-up, owning its arrays.</summary>
    public TrainingCheckpoint Checkpoint { get; }
    public int Steps { get; }
    /// <summary>Batch L0 of the first warm-up step and of the last.</summary>
    public double FirstL0 { get; }
    public double L0 { get; }

    /// <summary>Writes the state as a checkpoint directory under <paramref name="directory"/> (its L0s in the
    /// checkpoint's application data), for <see cref="Load"/> in another process.</summary>
    public string Save(string directory)
    {
        var withL0 = new TrainingCheckpoint
        {
            Options = Checkpoint.Options, Dim = Checkpoint.Dim, Step = Checkpoint.Step, Tokens = Checkpoint.Tokens, Seconds = Checkpoint.Seconds,
            InputScale = Checkpoint.InputScale, Parameters = Checkpoint.Parameters, Moment1 = Checkpoint.Moment1, Moment2 = Checkpoint.Moment2,
            FireCount = Checkpoint.FireCount, MaxY = Checkpoint.MaxY, StatisticsTokens = Checkpoint.StatisticsTokens, GroupOf = Checkpoint.GroupOf,
            Stream = Checkpoint.Stream, Evaluations = Checkpoint.Evaluations, Kernels = Checkpoint.Kernels, BaselineState = Checkpoint.BaselineState,
            TokensSinceFired = Checkpoint.TokensSinceFired,
            Application = new JsonObject { ["first_l0"] = FirstL0, ["l0"] = L0 },
        };
        return new CheckpointStore(directory, keep: 1).Write(withL0);
    }

    /// <summary>A state written by <see cref="Save"/>.</summary>
    public static WarmState Load(string checkpointDirectory)
    {
        var c = CheckpointStore.Load(checkpointDirectory);
        var app = c.Application ?? throw new InvalidDataException($"{checkpointDirectory}: not a regression-suite state (no L0s).");
        return new WarmState(c, (double)app["first_l0"]!, (double)app["l0"]!);
    }

    /// <summary>One warm-up run of <paramref name="options"/>, with the state captured after each of <paramref name="steps"/> (ascending).</summary>
    public static WarmState[] Train(TrainerOptions options, int dim, SyntheticSpec spec, params int[] steps)
    {
        var warm = options with { Tokens = (long)steps[^1] * options.BatchSize, EvalEvery = 0 };
        var previous = KernelSelector.Current;
        KernelSelector.Force(KernelSelector.Best);
        try
        {
            using var data = new SyntheticModel(spec, SuiteShape.DataSeed).OpenStream(1);
            var eval = EvaluationSet.FromStream(new SyntheticModel(spec, SuiteShape.DataSeed).OpenStream(2), 256);
            using var trainer = new SaeTrainer(warm, dim);
            var observer = new L0Observer();
            var sink = new CopyingSink(steps, observer);
            long every = steps.Aggregate((a, b) => (int)Gcd(a, b));
            trainer.Train(data, eval, observer, checkpoints: new CheckpointSchedule(sink, every));
            return steps.Select(s => sink.Captured.TryGetValue(s, out var c) ? c : throw new InvalidOperationException($"The warm-up captured no state at step {s}.")).ToArray();
        }
        finally
        {
            KernelSelector.Force(previous);   // the set under test again
        }
    }

    static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);

    /// <summary>Copies the checkpoints of the wanted steps: the trainer hands over its live buffers.</summary>
    sealed class CopyingSink(int[] steps, L0Observer observer) : ICheckpointSink
    {
        public Dictionary<int, WarmState> Captured { get; } = [];

        public void Save(TrainingCheckpoint c)
        {
            if (!steps.Contains((int)c.Step) || Captured.ContainsKey((int)c.Step)) return;
            var copy = new TrainingCheckpoint
            {
                Options = c.Options, Dim = c.Dim, Step = c.Step, Tokens = c.Tokens, Seconds = c.Seconds, InputScale = c.InputScale,
                Parameters = c.Parameters.ToArray(), Moment1 = c.Moment1.ToArray(), Moment2 = c.Moment2.ToArray(),
                FireCount = c.FireCount.ToArray(), MaxY = c.MaxY.ToArray(), StatisticsTokens = c.StatisticsTokens,
                GroupOf = c.GroupOf.ToArray(), Stream = c.Stream, Evaluations = [.. c.Evaluations], Kernels = c.Kernels,
                BaselineState = c.BaselineState?.DeepClone().AsObject(), TokensSinceFired = c.TokensSinceFired.ToArray(), Application = null,
            };
            Captured[(int)c.Step] = new WarmState(copy, observer.First, observer.Last);
        }
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
