using GbaEngine.Benchmarks.Regression.Entries;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Tests;

/// <summary>The suite's trainer states survive the trip the parent makes them take to every launch: captured
/// during a warm-up, written as a checkpoint, read back and restored into a fresh trainer.</summary>
public sealed class WarmStateTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gba-warmstate-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(TrainingMethod.Gba, BiasInitialization.Edge)]
    [InlineData(TrainingMethod.Gba, BiasInitialization.Quantile)]
    [InlineData(TrainingMethod.TopK, BiasInitialization.Edge)]
    [InlineData(TrainingMethod.BatchTopK, BiasInitialization.Edge)]
    public void SavedStateLoadsAndRestoresIntoAFreshTrainer(TrainingMethod method, BiasInitialization biasInit)
    {
        const int dim = 16;
        var options = new TrainerOptions
        {
            Method = method, BiasInit = biasInit, Neurons = 256, BatchSize = 64, K = 8, Threads = 1, EvalEvery = 0,
            InitTokens = 256, Tokens = 64 * 1000,
        };
        var states = WarmState.Train(options, dim, new SyntheticSpec(Features: 64, Dim: dim, Sparsity: 4), 2, 3);
        Assert.Equal([2, 3], states.Select(s => s.Steps));

        var loaded = WarmState.Load(states[1].Save(Path.Combine(_dir, "state")));
        Assert.Equal((3, states[1].FirstL0, states[1].L0), (loaded.Steps, loaded.FirstL0, loaded.L0));
        Assert.Equal(states[1].Checkpoint.Parameters.ToArray(), loaded.Checkpoint.Parameters.ToArray());
        // Every piece of trainer state, including what only some methods keep (TopK's dead-latent counters).
        Assert.Equal(states[1].Checkpoint.TokensSinceFired.ToArray(), loaded.Checkpoint.TokensSinceFired.ToArray());
        Assert.Equal(states[1].Checkpoint.MaxY.ToArray(), loaded.Checkpoint.MaxY.ToArray());

        using var trainer = new SaeTrainer(loaded.Checkpoint.Options, dim);
        trainer.Restore(loaded.Checkpoint);
        using var data = new SyntheticModel(new SyntheticSpec(Features: 64, Dim: dim, Sparsity: 4), 1).OpenStream(3);
        Assert.True(double.IsFinite(trainer.TrainStep(data).Loss));
    }
}
