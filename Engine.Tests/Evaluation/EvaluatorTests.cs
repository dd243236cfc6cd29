using GbaEngine.Inference;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Tests.Interop;

namespace GbaEngine.Tests.Evaluation;

/// <summary>
/// Metrics of an engine SAE computed through the inference model (original space, the path `gba eval`
/// takes for every layout) agree with the training evaluator's (normalised space mapped back) on the
/// same tokens, within fp32 rounding; and do not depend on the thread count.
/// </summary>
[Trait("Category", "Kernels")]
public class EvaluatorTests
{
    [Theory]
    [InlineData(true, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.DatasetScale)]
    [InlineData(false, SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.DatasetScale)]
    [InlineData(false, SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.DatasetScale)]
    [InlineData(true, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.PerToken)]
    public void AgreesWithTheTrainingEvaluator(bool tied, SaeActivation gate, SparsityMode sparsity, InputNormalization norm)
    {
        const int d = 20, m = 48, rows = 5000;   // more than one 4,096-row chunk
        var sae = EngineRoundTripTests.RandomSae(tied, gate, sparsity, norm, seed: 21, d, m);
        var set = new EvaluationSet(EngineRoundTripTests.RawTokens(rows, d, 22), d);
        var engine = Evaluator.Evaluate(sae, set, null, threads: 1);
        var model = SaeModel.FromAutoencoder(sae);
        var mine = Evaluator.Evaluate(model, set, threads: 1);

        Assert.Equal(engine.Tokens, mine.Tokens);
        Assert.Equal(engine.Fvu, mine.Fvu, 1e-4 * engine.Fvu);
        Assert.Equal(engine.Mse, mine.Mse, 1e-4 * engine.Mse);
        // A gate decision can flip on an fp32 tie; allow a handful in 5,000 tokens, no more.
        Assert.Equal(engine.L0, mine.L0, 5.0 / rows);
        Assert.Equal(engine.FractionActive, mine.FractionActive, 5.0 / rows / m);
        Assert.Equal(engine.DeadFraction, mine.DeadFraction);
        Assert.InRange(engine.L0, 1, m - 1);

        var threaded = Evaluator.Evaluate(model, set, threads: 3);
        Assert.Equal(mine.Fvu, threaded.Fvu);
        Assert.Equal(mine.L0, threaded.L0);
        Assert.Equal(mine.FrequencyHistogram, threaded.FrequencyHistogram);
    }

    [Fact]
    public void ADimensionMismatchIsOneClearError()
    {
        var model = SaeModel.FromAutoencoder(EngineRoundTripTests.RandomSae(true, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.DatasetScale, 1));
        var set = new EvaluationSet(new float[30], 3);
        var e = Assert.Throws<ArgumentException>(() => Evaluator.Evaluate(model, set));
        Assert.Contains("d = 3", e.Message);
        Assert.Contains("d_in = 20", e.Message);
    }
}
