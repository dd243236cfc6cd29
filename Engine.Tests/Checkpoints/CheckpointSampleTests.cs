using GbaEngine.Checkpoints;
using GbaEngine.Evaluation;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Training;

namespace GbaEngine.Tests.Checkpoints;

/// <summary>The checkpoint sample of docs/library.md, compiled and run here; a second test fails when the guide and this file drift apart.</summary>
public class CheckpointSampleTests
{
    [Fact]
    public void TheSampleResumesToTheUninterruptedResult()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 96, Dim: 64, Sparsity: 3), seed: 1);
        var eval = EvaluationSet.FromStream(model.OpenStream(2), 1024, model.Features, model.Frequencies);
        var options = new TrainerOptions { Neurons = 256, Groups = 3, Htf = 0.1, Ltf = 0.03, BatchSize = 128, Tokens = 128 * 30,
                                           InitTokens = 1024, BufferTokens = 1280, EvalEvery = 10, Threads = 2 };
        using var cts = new CancellationTokenSource();
        cts.Cancel();                      // stops after the first step
        var token = cts.Token;
        using var dir = new TempDir();
        string runDirectory = dir.Path;

        var store = new CheckpointStore(Path.Combine(runDirectory, "checkpoints"), keep: 3);
        Assert.Throws<OperationCanceledException>(() =>
        {
            using (var trainer = new SaeTrainer(options, dim: 64))
                trainer.Train(model.OpenStream(1), eval, cancel: token, checkpoints: new CheckpointSchedule(store, EverySteps: 1000));
        });
        var loaded = store.LoadLatest();                        // the newest intact one; loaded.Skipped lists damaged ones
        Assert.Equal(1, loaded.Checkpoint.Step);
        using var resumed = new SaeTrainer(loaded.Checkpoint.Options, dim: 64);
        resumed.Restore(loaded.Checkpoint, loaded.Directory);
        var stream = model.OpenStream(1);
        stream.Restore(loaded.Checkpoint.Stream);                // activation files: dataset.OpenStream(loaded.Checkpoint.Stream)
        var result = resumed.Train(stream, eval, checkpoints: new CheckpointSchedule(store));

        using var straight = new SaeTrainer(options, 64);
        ResumeTests.AssertSameRun(straight.Train(model.OpenStream(1), eval), result);
    }

    [Fact]
    public void TheGuideShowsTheCodeThisFileRuns() => DocSamples.AssertBlockIsInThisFile("docs/library.md", "## Checkpoints, cancellation and resume", skipComments: true);
}
