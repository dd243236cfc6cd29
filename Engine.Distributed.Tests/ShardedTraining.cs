using System.Globalization;
using GbaEngine.Checkpoints;
using GbaEngine.Collectives;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Distributed.Tests;

/// <summary>
/// The sharded trainer's runs, shared by the check program (each rank of a job) and the tests (the single-process
/// reference): GBA, BA and TopK, tied and untied, M = 100 so that 3 ranks hold 34, 33 and 33 neurons. Each run is short
/// (40 steps of 64 tokens) but crosses four GBA bias updates, so the group sums over ranks take part.
/// </summary>
public static class ShardedTraining
{
    public const int Steps = 40, StopAfter = 17;
    static readonly SyntheticSpec Spec = new(Features: 64, Dim: 24, Sparsity: 2);

    /// <summary>The runs, by name (TopK without AuxK, k = 3).</summary>
    public static readonly (string Name, TrainingMethod Method, bool Tied)[] Cases =
    [
        ("gba-tied", TrainingMethod.Gba, true), ("gba-untied", TrainingMethod.Gba, false),
        ("ba-tied", TrainingMethod.Ba, true), ("ba-untied", TrainingMethod.Ba, false),
        ("topk-tied", TrainingMethod.TopK, true), ("topk-untied", TrainingMethod.TopK, false),
    ];

    /// <summary>Low target frequencies: the bias rule both lowers too-active neurons and
    /// raises dead ones by their group's mean peak, so the group sums over ranks decide the result.</summary>
    public static TrainerOptions Options(TrainingMethod method, bool tied) => new()
    {
        Method = method, Tied = tied, Neurons = 100, BatchSize = 64, Steps = Steps, Threads = 1, InitTokens = 512,
        BufferTokens = 320, EvalEvery = 20, Groups = 3, Htf = 0.05, Ltf = 0.005, Taf = 0.01, Seed = 5, K = 3,
        AuxK = method == TrainingMethod.TopK ? 0 : null,
        // The edge start (tied) and the quantile start (untied), whose target frequencies come from each neuron's global group.
        BiasInit = tied ? BiasInitialization.Edge : BiasInitialization.Quantile,
    };

    static readonly SyntheticModel Problem = new(Spec, 5);

    public static EvaluationSet Eval() => EvaluationSet.FromStream(Problem.OpenStream(2), 1024, Problem.Features, Problem.Frequencies);

    /// <summary>One straight run on <paramref name="comm"/>: the whole model's parameters and the final FVU and L0.</summary>
    public static (float[] Parameters, double Fvu, double L0) Run(TrainerOptions options, Communicator comm, EvaluationSet eval) =>
        Run(options, comm, eval, out _, out _);

    /// <summary>As <see cref="Run(TrainerOptions, Communicator, EvaluationSet)"/>, counting the neurons the bias updates lowered and raised.</summary>
    public static (float[] Parameters, double Fvu, double L0) Run(TrainerOptions options, Communicator comm, EvaluationSet eval, out int lowered, out int raised)
    {
        using var trainer = new SaeTrainer(options, Spec.Dim, comm);
        var counter = new BiasCounter();
        var result = trainer.Train(Problem.OpenStream(1), eval, counter);
        (lowered, raised) = (counter.Lowered, counter.Raised);
        return (Flatten(result.Model), result.Final.Fvu, result.Final.L0);
    }

    sealed class BiasCounter : ITrainingObserver
    {
        public int Lowered, Raised;
        public void OnBiasUpdate(BiasUpdateReport r) { Lowered += r.Rule.Lowered; Raised += r.Rule.Raised; }
    }

    /// <summary>
    /// A run stopped after <see cref="StopAfter"/> steps by a cancellation on rank 0 alone (the ranks must agree to
    /// stop, each checkpointing its shard into <paramref name="dir"/>/rank-R), then continued by fresh trainers
    /// from those checkpoints.
    /// </summary>
    public static (float[] Parameters, double Fvu, double L0) StopAndResume(TrainerOptions options, Communicator comm, EvaluationSet eval, string dir)
    {
        var store = new CheckpointStore(Path.Combine(dir, $"rank-{comm.Rank}"));
        using var cts = new CancellationTokenSource();
        var stopper = new StopAt(comm.Rank == 0 ? cts : null);
        using (var trainer = new SaeTrainer(options, Spec.Dim, comm))
        {
            try
            {
                trainer.Train(Problem.OpenStream(1), eval, stopper, cts.Token, new CheckpointSchedule(store, EverySteps: 0));
                throw new InvalidOperationException($"rank {comm.Rank}: the run was not stopped");
            }
            catch (OperationCanceledException) { }
        }
        var loaded = store.LoadLatest();
        if (loaded.Checkpoint.Step != StopAfter) throw new InvalidOperationException($"rank {comm.Rank}: stopped at step {loaded.Checkpoint.Step}, not {StopAfter}");
        using var resumed = new SaeTrainer(loaded.Checkpoint.Options, Spec.Dim, comm);
        resumed.Restore(loaded.Checkpoint, loaded.Directory);
        var stream = Problem.OpenStream(1);
        stream.Restore(loaded.Checkpoint.Stream);
        var result = resumed.Train(stream, eval);
        return (Flatten(result.Model), result.Final.Fvu, result.Final.L0);
    }

    /// <summary>The program's part: every case straight twice and stopped-and-resumed, rank 0 writing the first run to
    /// <paramref name="dir"/>; returns the number of runs that repeated bitwise (all, or an exception says which did not).</summary>
    public static int Check(Communicator comm, string dir)
    {
        var eval = Eval();
        int checks = 0;
        foreach (var (name, method, tied) in Cases)
        {
            var options = Options(method, tied);
            var first = Run(options, comm, eval);
            var again = Run(options, comm, eval);
            if (!first.Parameters.AsSpan().SequenceEqual(again.Parameters) || first.Fvu != again.Fvu)
                throw new InvalidOperationException($"rank {comm.Rank}: {name} on {comm.Size} ranks did not repeat bitwise");
            checks++;
            var resumed = StopAndResume(options, comm, eval, Path.Combine(dir, $"{name}-np{comm.Size}"));
            if (!first.Parameters.AsSpan().SequenceEqual(resumed.Parameters) || first.Fvu != resumed.Fvu || first.L0 != resumed.L0)
                throw new InvalidOperationException($"rank {comm.Rank}: {name} on {comm.Size} ranks, stopped at step {StopAfter} and resumed, does not end bitwise where the straight run ends");
            checks++;
            if (comm.Rank == 0) Write(Path.Combine(dir, $"{name}-np{comm.Size}.txt"), first);
        }
        return checks;
    }

    /// <summary>W_dec | W_enc (untied) | a | b_pre | b of a whole model.</summary>
    public static float[] Flatten(SparseAutoencoder model)
    {
        var p = model.Parameters;
        var all = new List<float>();
        all.AddRange(p.Decoder.ToArray());
        if (!p.Tied) all.AddRange(p.Encoder.ToArray());
        all.AddRange(p.Scale.ToArray());
        all.AddRange(p.PreBias.ToArray());
        all.AddRange(p.Bias.ToArray());
        return [.. all];
    }

    static void Write(string path, (float[] Parameters, double Fvu, double L0) run)
    {
        var ci = CultureInfo.InvariantCulture;
        File.WriteAllLines(path, [run.Fvu.ToString("R", ci), run.L0.ToString("R", ci), .. run.Parameters.Select(v => v.ToString("R", ci))]);
    }

    public static (float[] Parameters, double Fvu, double L0) Read(string path)
    {
        var lines = File.ReadAllLines(path);
        var ci = CultureInfo.InvariantCulture;
        return (lines.Skip(2).Select(l => float.Parse(l, ci)).ToArray(), double.Parse(lines[0], ci), double.Parse(lines[1], ci));
    }

    sealed class StopAt(CancellationTokenSource? cts) : ITrainingObserver
    {
        public void OnStep(in StepReport r)
        {
            if (r.Step == StopAfter) cts?.Cancel();
        }

        public void OnEvaluation(EvaluationReport r) { }
        public void OnBiasUpdate(BiasUpdateReport r) { }
    }
}
