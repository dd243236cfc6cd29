using GbaEngine.Activations;
using GbaEngine.Checkpoints;
using GbaEngine.Evaluation;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Training;
using GbaEngine.Formats;

namespace GbaEngine.Tests.Checkpoints;

/// <summary>
/// A run stopped after N steps and continued from its checkpoint by a fresh trainer, a fresh stream
/// and a fresh store (nothing shared with the first process but the files) ends bitwise where an
/// uninterrupted 2N-step run ends: parameters, AdamW moments, GBA statistics, stream state and every
/// evaluation. N = 37 with a GBA buffer of 10 steps, so the resume lands mid-buffer.
/// </summary>
[Trait("Category", "Kernels")]
public class ResumeTests
{
    const int N = 37;
    static readonly SyntheticSpec Spec = new(Features: 64, Dim: 24, Sparsity: 2);

    internal static TrainerOptions Options(TrainingMethod method, long steps = 2 * N) => new()
    {
        Method = method, Neurons = 128, BatchSize = 64, Tokens = 64 * steps, Threads = 2, InitTokens = 512, BufferTokens = 640,
        EvalEvery = 20, Groups = 3, Htf = 0.1, Ltf = 0.02, K = 2, Tied = method != TrainingMethod.Ba, Seed = 5,
    };

    /// <summary>Where the data comes from: synthetic (stream state restored) or an .npy file (stream re-derived from its position).</summary>
    sealed class Data : IDisposable
    {
        readonly SyntheticModel _model = new(Spec, 5);
        readonly ActivationDataset? _dataset;

        public Data(bool files, TempDir dir)
        {
            if (!files) return;
            // 3,000 rows: one epoch is 42 steps of 64 after the 10% hold-out, so the run crosses epochs and shuffle windows.
            var rows = new float[3000 * Spec.Dim];
            _model.OpenStream(9).NextBatch(rows, 3000);
            var path = Path.Combine(dir.Path, "acts.npy");
            if (!File.Exists(path)) File.WriteAllBytes(path, TestFiles.Npy("<f4", [3000, Spec.Dim], TestFiles.Encode(rows, ActivationDType.F32)));
            _dataset = ActivationDataset.Open(path, new LoaderOptions { EvalRows = 300 });
        }

        public ITokenStream Open() => _dataset is null ? _model.OpenStream(1)
            : _dataset.OpenStream(11, 0, new StreamOptions { ChunkRows = 16, ShuffleBufferRows = 256 });

        public ITokenStream Open(StreamState state)
        {
            if (_dataset is not null) return _dataset.OpenStream(state);
            var s = _model.OpenStream(1);
            s.Restore(state);
            return s;
        }

        public EvaluationSet Eval() => _dataset is null
            ? EvaluationSet.FromStream(_model.OpenStream(2), 1024, _model.Features, _model.Frequencies)
            : EvaluationSet.FromStream(_dataset.OpenEvalStream(), 300);

        public void Dispose() => _dataset?.Dispose();
    }

    sealed class StopAt(long step, CancellationTokenSource cts) : ITrainingObserver
    {
        public void OnStep(in StepReport r) { if (r.Step == step) cts.Cancel(); }
    }

    [Theory]
    [InlineData(TrainingMethod.Gba, false)]
    [InlineData(TrainingMethod.Gba, true)]
    [InlineData(TrainingMethod.TopK, false)]
    [InlineData(TrainingMethod.TopK, true)]
    [InlineData(TrainingMethod.Ba, true)]
    [InlineData(TrainingMethod.BatchTopK, false)]
    [InlineData(TrainingMethod.L1, false)]
    [InlineData(TrainingMethod.JumpReluL0, false)]
    [InlineData(TrainingMethod.Mp, false)]
    public void StopAndResumeIsBitwiseTheUninterruptedRun(TrainingMethod method, bool files)
    {
        using var dir = new TempDir();
        var o = Options(method);

        // Uninterrupted: 2N steps; its end checkpoint holds every piece of state to compare.
        var straightStore = new CheckpointStore(Path.Combine(dir.Path, "straight"));
        TrainingResult straight;
        using (var data = new Data(files, dir))
        using (var stream = data.Open())
        using (var trainer = new SaeTrainer(o, Spec.Dim))
            straight = trainer.Train(stream, data.Eval(), checkpoints: new CheckpointSchedule(straightStore, EverySteps: 0));

        // Interrupted: cancellation requested during step N; the step finishes, is checkpointed, then the run stops.
        var store = new CheckpointStore(Path.Combine(dir.Path, "resumed"));
        using (var data = new Data(files, dir))
        using (var stream = data.Open())
        using (var cts = new CancellationTokenSource())
        using (var trainer = new SaeTrainer(o, Spec.Dim))
        {
            var ex = Assert.ThrowsAny<OperationCanceledException>(() =>
                trainer.Train(stream, data.Eval(), new StopAt(N, cts), cts.Token, new CheckpointSchedule(store, EverySteps: 0)));
            Assert.Contains($"step {N} of {2 * N}", ex.Message);
        }

        // Resume with nothing carried over but the directory.
        var loaded = new CheckpointStore(Path.Combine(dir.Path, "resumed")).LoadLatest();
        Assert.Equal(N, loaded.Checkpoint.Step);
        Assert.Empty(loaded.Skipped);
        if (o.TargetFrequencies().Length > 0) Assert.NotEqual(0, loaded.Checkpoint.StatisticsTokens);   // mid GBA buffer
        TrainingResult resumed;
        using (var data = new Data(files, dir))
        using (var stream = data.Open(loaded.Checkpoint.Stream))
        {
            using var trainer = new SaeTrainer(loaded.Checkpoint.Options, Spec.Dim);
            trainer.Restore(loaded.Checkpoint, loaded.Directory);
            resumed = trainer.Train(stream, data.Eval(), checkpoints: new CheckpointSchedule(store, EverySteps: 0));
        }

        AssertSameRun(straight, resumed);
        AssertSameState(CheckpointStore.Load(straightStore.LastWritten!), CheckpointStore.Load(store.LastWritten!));
    }

    /// <summary>
    /// The state the dead-latent repairs and schedules add: AuxK active before the stop (a 3-step dead
    /// window; tied, and untied with the peers' encoder start), resampling steps before and after it (every 12 steps),
    /// and a warm-up that ends before it with a decay that starts after it (steps 22 and 44 of 74).
    /// </summary>
    [Theory]
    [InlineData(TrainingMethod.TopK, "auxk")]
    [InlineData(TrainingMethod.BatchTopK, "auxk")]
    [InlineData(TrainingMethod.TopK, "untied")]
    [InlineData(TrainingMethod.BatchTopK, "untied")]
    [InlineData(TrainingMethod.L1, "resample")]
    [InlineData(TrainingMethod.JumpReluL0, "resample")]
    [InlineData(TrainingMethod.TopK, "schedule")]
    [InlineData(TrainingMethod.Gba, "schedule")]
    public void RepairsAndSchedulesResumeBitwise(TrainingMethod method, string variant)
    {
        using var dir = new TempDir();
        var o = variant switch
        {
            "auxk" => Options(method) with { DeadTokens = 64 * 3 },
            "untied" => Options(method) with { Tied = false, DeadTokens = 64 * 3 },     // the peers' encoder start, AuxK on
            "resample" => Options(method) with { ResampleEvery = 12, L1Coefficient = 1.0, L0Coefficient = 0.5, LearningRate = 0.01 },
            _ => Options(method) with { LrWarmup = 0.3, LrSchedule = LearningRateDecay.Cosine, LrDecayStart = 0.6 },
        };
        var data = new Data(false, dir);
        var straightStore = new CheckpointStore(Path.Combine(dir.Path, "straight"));
        TrainingResult straight;
        long repairsBefore;
        using (var trainer = new SaeTrainer(o, Spec.Dim))
        {
            var probe = new RepairProbe(trainer, N);
            straight = trainer.Train(data.Open(), data.Eval(), probe, checkpoints: new CheckpointSchedule(straightStore, EverySteps: 0));
            repairsBefore = probe.BeforeStop;
            if (variant is "auxk" or "untied") Assert.True(probe.BeforeStop > 0 && probe.AfterStop > 0, $"AuxK entries before/after the stop: {probe.BeforeStop}/{probe.AfterStop}");
            if (variant == "resample") Assert.True(trainer.Resampling!.Total > probe.BeforeStop && probe.BeforeStop > 0,
                $"resampled {probe.BeforeStop} by step {N}, {trainer.Resampling.Total} in all");
        }

        var store = new CheckpointStore(Path.Combine(dir.Path, "resumed"));
        using (var cts = new CancellationTokenSource())
        using (var trainer = new SaeTrainer(o, Spec.Dim))
            Assert.ThrowsAny<OperationCanceledException>(() =>
                trainer.Train(data.Open(), data.Eval(), new StopAt(N, cts), cts.Token, new CheckpointSchedule(store, EverySteps: 0)));
        var loaded = store.LoadLatest();
        Assert.Equal(o.TracksDeadLatents ? o.Neurons : 0, loaded.Checkpoint.TokensSinceFired.Length);
        TrainingResult resumed;
        using (var trainer = new SaeTrainer(loaded.Checkpoint.Options, Spec.Dim))
        {
            trainer.Restore(loaded.Checkpoint, loaded.Directory);
            resumed = trainer.Train(data.Open(loaded.Checkpoint.Stream), data.Eval(), checkpoints: new CheckpointSchedule(store, EverySteps: 0));
        }
        AssertSameRun(straight, resumed);
        var (a, b) = (CheckpointStore.Load(straightStore.LastWritten!), CheckpointStore.Load(store.LastWritten!));
        AssertSameState(a, b);
        Assert.True(a.TokensSinceFired.Span.SequenceEqual(b.TokensSinceFired.Span));
    }

    /// <summary>Counts AuxK entries or resampled latents up to and after a step.</summary>
    sealed class RepairProbe(SaeTrainer trainer, long stop) : ITrainingObserver
    {
        public long BeforeStop, AfterStop;
        public void OnStep(in StepReport r)
        {
            long n = trainer.AuxK?.Code.Count ?? 0;
            if (trainer.Resampling is { } rs) { if (r.Step <= stop) BeforeStop = rs.Total; return; }
            if (r.Step <= stop) BeforeStop += n; else AfterStop += n;
        }
    }

    [Fact]
    public void PeriodicCheckpointsResumeFromAnyOfThemAndAFinishedRunExtends()
    {
        using var dir = new TempDir();
        var o = Options(TrainingMethod.Gba);
        var data = new Data(false, dir);
        using var first = new SaeTrainer(o, Spec.Dim);
        var straight = first.Train(data.Open(), data.Eval());

        // A run with half the budget, checkpointed every 15 steps (15, 30 and the end, 37), keeping 2.
        var store = new CheckpointStore(Path.Combine(dir.Path, "run"), keep: 2);
        using (var half = new SaeTrainer(Options(TrainingMethod.Gba, N), Spec.Dim))
            half.Train(data.Open(), data.Eval(), checkpoints: new CheckpointSchedule(store, 15));
        Assert.Equal(new long[] { N, 30 }, store.List().Select(c => c.Step));

        foreach (var (_, path) in store.List())
        {
            var c = CheckpointStore.Load(path);
            using var trainer = new SaeTrainer(o, Spec.Dim);      // the full budget: extends the finished run
            trainer.Restore(c, path);
            AssertSameRun(straight, trainer.Train(data.Open(c.Stream), data.Eval()));
        }
    }

    [Fact]
    public void MismatchedOptionsAndStreamsAreOneClearError()
    {
        using var dir = new TempDir();
        var data = new Data(false, dir);
        var store = new CheckpointStore(dir.Path);
        using (var t12 = new SaeTrainer(Options(TrainingMethod.Gba, 12), Spec.Dim))
            t12.Train(data.Open(), data.Eval(), checkpoints: new CheckpointSchedule(store, 0));
        var c = store.LoadLatest().Checkpoint;

        string Refused(TrainerOptions o, int dim, string source = "checkpoint")
        {
            using var t = new SaeTrainer(o, dim);
            return Assert.Throws<InvalidDataException>(() => t.Restore(c, source)).Message;
        }
        var e = Refused(Options(TrainingMethod.Gba) with { Neurons = 256, Htf = 0.2 }, Spec.Dim, "CKPT");
        Assert.StartsWith("CKPT: the checkpoint does not match this run", e);
        Assert.Contains("neurons 128 (checkpoint) vs 256 (now)", e);
        Assert.Contains("htf 0.1 (checkpoint) vs 0.2 (now)", e);
        Assert.Contains("method \"gba\" (checkpoint) vs \"top_k\" (now)", Refused(Options(TrainingMethod.TopK), Spec.Dim));
        Assert.Contains("dim 24 (checkpoint) vs 32 (now)", Refused(Options(TrainingMethod.Gba), 32));
        Assert.Contains("past this run's budget", Refused(Options(TrainingMethod.Gba, 5), Spec.Dim));

        // A stream that was not re-positioned is refused rather than silently trained on.
        using var t = new SaeTrainer(Options(TrainingMethod.Gba), Spec.Dim);
        t.Restore(c);
        Assert.Contains("position 0, the checkpoint at", Assert.Throws<ArgumentException>(() => t.Train(data.Open(), data.Eval())).Message);
        var other = new SyntheticModel(Spec, 6).OpenStream(1);
        other.Restore(c.Stream);
        Assert.Contains("was trained on", Assert.Throws<ArgumentException>(() => t.Train(other, data.Eval())).Message);
    }

    internal static void AssertSameRun(TrainingResult expected, TrainingResult actual)
    {
        Assert.Equal(expected.Steps, actual.Steps);
        Assert.Equal(expected.Tokens, actual.Tokens);
        TestFiles.AssertBitsEqual(expected.Model.Parameters.Data.Span, actual.Model.Parameters.Data.Span);
        Assert.Equal(expected.Model.InputScale, actual.Model.InputScale);
        Assert.Equal(expected.Evaluations.Select(e => e.Step), actual.Evaluations.Select(e => e.Step));
        for (int i = 0; i < expected.Evaluations.Count; i++) AssertSameMetrics(expected.Evaluations[i].Metrics, actual.Evaluations[i].Metrics);
    }

    internal static void AssertSameMetrics(EvaluationMetrics a, EvaluationMetrics b)
    {
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.Equal(BitConverter.DoubleToInt64Bits(a.Mse), BitConverter.DoubleToInt64Bits(b.Mse));
        Assert.Equal(BitConverter.DoubleToInt64Bits(a.Fvu), BitConverter.DoubleToInt64Bits(b.Fvu));
        Assert.Equal(BitConverter.DoubleToInt64Bits(a.L0), BitConverter.DoubleToInt64Bits(b.L0));
        Assert.Equal(a.DeadFraction, b.DeadFraction);
        Assert.Equal(a.FractionActive, b.FractionActive);
        Assert.Equal(a.FrequencyHistogram, b.FrequencyHistogram);
        Assert.Equal(a.Groups, b.Groups);
        Assert.Equal(a.Frr08, b.Frr08);
        Assert.Equal(a.Frr09, b.Frr09);
        Assert.Equal(a.BestCosines, b.BestCosines);
    }

    static void AssertSameState(TrainingCheckpoint a, TrainingCheckpoint b)
    {
        Assert.Equal(a.Step, b.Step);
        TestFiles.AssertBitsEqual(a.Parameters.Span, b.Parameters.Span);
        TestFiles.AssertBitsEqual(a.Moment1.Span, b.Moment1.Span);
        TestFiles.AssertBitsEqual(a.Moment2.Span, b.Moment2.Span);
        Assert.True(a.FireCount.Span.SequenceEqual(b.FireCount.Span));
        TestFiles.AssertBitsEqual(a.MaxY.Span, b.MaxY.Span);
        Assert.Equal(a.StatisticsTokens, b.StatisticsTokens);
        Assert.Equal(a.Stream, b.Stream);
        Assert.Equal(a.Evaluations.Count, b.Evaluations.Count);
    }
}
