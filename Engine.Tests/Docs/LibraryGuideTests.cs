using GbaEngine.Activations;
using GbaEngine.Evaluation;
using GbaEngine.Inference;
using GbaEngine.Interop;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Training;

namespace GbaEngine.Tests.Docs;

/// <summary>
/// The samples of docs/library.md, compiled here and run: on the shared USE-Lite activations (training on files,
/// evaluating from files) and on the paper's synthetic model. The last tests fail when the guide and this file drift apart.
/// </summary>
[Trait("Category", "Kernels")]
public class LibraryGuideTests
{
    // files: .npy / .safetensors / raw activation files [tokens × d]; the SAE is exported to exportDirectory
    static TrainingResult TrainOnFiles(IReadOnlyList<string> files, string exportDirectory, long steps)
    {
        using var dataset = ActivationDataset.Open(files, new LoaderOptions { EvalRows = 4096 });
        using var train = dataset.OpenStream(seed: 1);              // shuffled training rows, looping over epochs
        EvaluationSet eval;
        using (var held = dataset.OpenEvalStream())
            eval = EvaluationSet.FromStream(held, (int)dataset.EvalRows);

        var options = new TrainerOptions { Neurons = 4 * dataset.Dim, Steps = steps, BatchSize = 512, Threads = 2 };
        using var trainer = new SaeTrainer(options, dataset.Dim);    // owns worker threads: dispose it
        TrainingResult result = trainer.Train(train, eval);
        Console.WriteLine($"FVU {result.Final.Fvu:F3}  L0 {result.Final.L0:F1}  dead {result.Final.DeadFraction:P1}");
        SaeLensExport.Write(exportDirectory, result.Model, "gba");  // SAELens 6 layout; SaeModel.Load reads it back
        return result;
    }

    static EvaluationMetrics EvaluateOnFiles(string saeDirectory, IReadOnlyList<string> files, long tokens)
    {
        var sae = SaeModel.Load(saeDirectory);
        using var dataset = ActivationDataset.Open(files);
        // Called twice (the mean, then the errors): each call opens a stream over the same first rows, in file order.
        return Evaluator.Evaluate(sae, () => dataset.OpenStream(seed: 0, options: new() { Shuffle = false }), tokens, threads: 2);
    }

    static readonly string[] Moby = [TestFiles.SharedData("use-lite-moby-resid1-40k.f16.npy")];

    [Fact]
    public void TrainOnFiles_trains_on_the_shared_activations_and_exports()
    {
        using var dir = new TempDir();
        var result = TrainOnFiles(Moby, dir.Path, steps: 30);
        Assert.Equal(30, result.Steps);
        Assert.Equal(30L * 512, result.Tokens);
        Assert.Equal(4096, result.Final.Tokens);
        Assert.InRange(result.Final.Fvu, 0.0, 0.99);  // 30 steps already explain part of the variance
        Assert.True(double.IsFinite(result.Final.L0) && result.Final.L0 > 0);

        // The export is the trained model: loaded back, it reconstructs as the trainer's model does.
        var loaded = SaeModel.Load(dir.Path);
        var direct = SaeModel.FromAutoencoder(result.Model);
        using var ds = ActivationDataset.Open(Moby[0]);
        var rows = new float[64 * ds.Dim];
        ds.ReadRows(0, 64, rows);
        float[] a = new float[rows.Length], b = new float[rows.Length];
        loaded.ReconstructBatch(rows, 64, a);
        direct.ReconstructBatch(rows, 64, b);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4f * (1 + Math.Abs(b[i])), $"element {i}: {a[i]} vs {b[i]}");
    }

    static TrainingResult TrainSynthetic(long steps)   // the default budget is 6,000 steps of 512 tokens
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3), seed: 1);
        var eval = EvaluationSet.FromStream(model.OpenStream(2), 16_384, model.Features, model.Frequencies);
        var options = new TrainerOptions { Method = TrainingMethod.Gba, Neurons = 2048, Groups = 3, Htf = 0.024, Ltf = 0.012,
                                           LearningRate = 3e-3, Steps = steps };
        using var trainer = new SaeTrainer(options, dim: 64);
        using var stream = model.OpenStream(1);
        var result = trainer.Train(stream, eval);
        Console.WriteLine($"FRR@0.9 {result.Final.Frr09}, FVU {result.Final.Fvu}, L0 {result.Final.L0}");
        return result;
    }

    [Fact]
    public void TrainSynthetic_runs_its_steps_and_measures_recovery()
    {
        var result = TrainSynthetic(steps: 200);   // the default 6,000 take minutes; 200 show the sample runs as written
        Assert.Equal(200, result.Steps);
        Assert.NotNull(result.Final.Frr09);         // the ground truth in the evaluation set gives the recovery rates
        Assert.InRange(result.Final.Fvu, 0.0, 0.99);
    }

    [Fact]
    public void EvaluateOnFiles_matches_the_trainers_own_evaluation()
    {
        // A briefly trained SAE evaluated from the files on their first 2,048 rows gives the in-memory evaluator's numbers.
        using var dir = new TempDir();
        var result = TrainOnFiles(Moby, dir.Path, steps: 10);
        var fromFiles = EvaluateOnFiles(dir.Path, Moby, tokens: 2048);

        using var ds = ActivationDataset.Open(Moby[0]);
        var rows = new float[2048 * ds.Dim];
        ds.ReadRows(0, 2048, rows);
        var inMemory = Evaluator.Evaluate(SaeModel.Load(dir.Path), new EvaluationSet(rows, ds.Dim), threads: 2);
        Assert.Equal(2048, fromFiles.Tokens);
        Assert.Equal(inMemory.L0, fromFiles.L0, 9);
        Assert.Equal(inMemory.Fvu, fromFiles.Fvu, 6);
        Assert.Equal(result.Model.Neurons, SaeModel.Load(dir.Path).Features);
    }

    [Theory]
    [InlineData("## Train on activation files", 0)]
    [InlineData("## Train on the paper's synthetic model", 0)]
    [InlineData("## Use a trained SAE", 1)]
    public void TheGuideShowsTheCodeThisFileRuns(string heading, int block) =>
        DocSamples.AssertBlockIsInThisFile("docs/library.md", heading, skipComments: false, block);
}
