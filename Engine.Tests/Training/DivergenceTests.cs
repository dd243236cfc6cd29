using GbaEngine.Evaluation;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Tests.Training;

/// <summary>
/// A learning rate far too high stops the run with <see cref="TrainingDivergedException"/> at the step that
/// diverged, before that step is reported, evaluated or checkpointed: every checkpoint written is finite.
/// </summary>
public class DivergenceTests
{
    sealed class Recorder : ICheckpointSink, ITrainingObserver
    {
        public readonly List<long> Saved = [];
        public readonly List<long> Reported = [];
        public bool AllFinite = true;

        public void Save(TrainingCheckpoint c)
        {
            Saved.Add(c.Step);
            foreach (float v in c.Parameters.Span) AllFinite &= float.IsFinite(v);
        }

        public void OnStep(in StepReport r)
        {
            Reported.Add(r.Step);
            AllFinite &= double.IsFinite(r.Loss);
        }
    }

    [Theory]
    [InlineData(TrainingMethod.Gba, 1e10)]
    [InlineData(TrainingMethod.Ba, 1e10)]
    [InlineData(TrainingMethod.TopK, 1e10)]
    [InlineData(TrainingMethod.L1, 1e10)]
    [InlineData(TrainingMethod.L1, 1e6)]          // the "--method l1 --lr 1e6": FVU NaN, exit 0
    [InlineData(TrainingMethod.BatchTopK, 1e10)]
    [InlineData(TrainingMethod.JumpReluL0, 1e10)]
    [InlineData(TrainingMethod.Mp, 1e10)]
    public void AHugeLearningRateStopsAtTheStepThatDivergedAndKeepsTheLastGoodCheckpoint(TrainingMethod method, double lr)
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 48, Dim: 16, Sparsity: 3), seed: 1);
        var eval = EvaluationSet.FromStream(model.OpenStream(2), 256, model.Features, model.Frequencies);
        var o = new TrainerOptions
        {
            Method = method, Neurons = 64, Groups = 2, K = 4, BatchSize = 64, Steps = 200, LearningRate = lr,
            InitTokens = 256, BufferTokens = 256, EvalEvery = 1, Threads = 2, Tied = true,
        };
        var seen = new Recorder();
        using var trainer = new SaeTrainer(o, 16);
        var e = Assert.Throws<TrainingDivergedException>(() =>
            trainer.Train(model.OpenStream(1), eval, seen, checkpoints: new CheckpointSchedule(seen, EverySteps: 1)));

        Assert.InRange(e.Step, 1, 200);
        Assert.True(!double.IsFinite(e.Loss) || e.Loss > SaeTrainer.DivergedLoss || e.NonFiniteParameters, e.Message);
        Assert.Contains($"diverged at step {e.Step}", e.Message);
        Assert.Contains("LearningRate", e.Message);
        // Every step before the diverged one was checkpointed and reported; the diverged one never was.
        Assert.Equal(Enumerable.Range(1, (int)e.Step - 1).Select(s => (long)s), seen.Saved);
        Assert.Equal(seen.Saved, seen.Reported);
        Assert.True(seen.AllFinite, "a checkpoint or report held NaN/inf");
    }

    [Fact]
    public void ASaneRunNeverTripsTheCheck()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 48, Dim: 16, Sparsity: 3), seed: 1);
        var eval = EvaluationSet.FromStream(model.OpenStream(2), 256, model.Features, model.Frequencies);
        foreach (var method in Enum.GetValues<TrainingMethod>())
        {
            using var trainer = new SaeTrainer(new TrainerOptions
            {
                Method = method, Neurons = 64, Groups = 2, K = 4, BatchSize = 64, Steps = 40, InitTokens = 256, BufferTokens = 256, Threads = 2,
            }, 16);
            Assert.True(double.IsFinite(trainer.Train(model.OpenStream(1), eval).Final.Fvu), method.ToString());
        }
    }

    [Fact]
    public void NonFiniteInputIsTheDataNotTheLearningRate()
    {
        var o = new TrainerOptions { Neurons = 32, Groups = 2, BatchSize = 16, Steps = 5, InitTokens = 32, BufferTokens = 64, Threads = 1 };
        var rows = new float[200 * 8];
        var rng = new Random(3);
        for (int i = 0; i < rows.Length; i++) rows[i] = rng.NextSingle() - 0.5f;
        rows[100 * 8 + 3] = float.NaN;                      // row 100: in the batch of step 5 (init reads 32, then 16 per step)
        using var trainer = new SaeTrainer(o, 8);
        var eval = new EvaluationSet(rows[..(16 * 8)], 8);
        var e = Assert.Throws<ArgumentException>(() => trainer.Train(new ArrayStream(rows, 8), eval));
        Assert.Equal("data", e.ParamName);
        Assert.Contains("NaN or infinity", e.Message);
        Assert.IsNotType<TrainingDivergedException>(e);
    }

    /// <summary>Rows from an array, in order, wrapping around.</summary>
    sealed class ArrayStream(float[] rows, int dim) : GbaEngine.Streams.ITokenStream
    {
        long _next;
        public int Dim => dim;
        public long Position => _next;
        public void Dispose() { }
        public void NextBatch(Span<float> destination, int count)
        {
            long n = rows.Length / dim;
            for (int t = 0; t < count; t++, _next++)
                rows.AsSpan((int)(_next % n) * dim, dim).CopyTo(destination.Slice(t * dim, dim));
        }
        public string Describe() => "array";
    }
}
