using GbaEngine.Activations;
using GbaEngine.Evaluation;
using GbaEngine.Inference;
using GbaEngine.Interop;
using GbaEngine.Onnx.Evaluation;
using GbaEngine.Onnx.Harvest;
using GbaEngine.Onnx.Tokens;

namespace GbaEngine.Onnx.Tests;

/// <summary>Loss recovered and KL against torch's numbers: the identity splice, zero ablation, and a real SAELens SAE spliced in.</summary>
public class LossRecoveredTests
{
    static LossRecoveredResult Evaluate(SaeModel? sae, Ablation ablation = Ablation.Zero, int batch = 3) =>
        SpliceEvaluator.Evaluate(Fixture.Model, Fixture.SpliceHook, TokenSequences.FromNpy(Fixture.TokenIds), sae, ablation: ablation, batch: batch);

    [Fact]
    public void Splicing_the_hooks_own_value_recovers_all_the_loss_with_zero_kl()
    {
        var r = Evaluate(null);
        Assert.Equal("logits", r.Logits);
        Assert.Equal(4L * Fixture.Context, r.Tokens);
        Assert.Equal(Fixture.Loss("ce_clean"), r.CeClean, 1e-5);
        Assert.Equal(Fixture.Loss("ce_identity"), r.CeSpliced, 1e-5);
        Assert.Equal(1.0, r.LossRecovered, 1e-5);
        Assert.True(Math.Abs(r.KlSpliced) < 1e-9, $"KL of the identity splice: {r.KlSpliced:G3}");
        Assert.Equal(0.0, r.Fvu);
    }

    [Fact]
    public void Zero_ablation_gives_torchs_ablated_loss_and_kl()
    {
        var r = Evaluate(null, batch: 4);
        Assert.Equal(Fixture.Loss("ce_zero_ablated"), r.CeAblated, 1e-5);
        Assert.Equal(Fixture.Loss("kl_zero_ablated"), r.KlAblated, 1e-5);
        Assert.True(r.CeAblated > r.CeClean + 0.5, "ablating the residual stream must cost loss in the trained fixture");
    }

    [Fact]
    public void A_saelens_sae_spliced_in_gives_torchs_loss_kl_and_loss_recovered()
    {
        var sae = SaeModel.Load(Fixture.Sae);
        Assert.Equal(SaeLayout.SaeLens, sae.Layout);
        var r = Evaluate(sae, batch: 1);
        Assert.Equal(Fixture.Loss("ce_sae"), r.CeSpliced, 1e-5);
        Assert.Equal(Fixture.Loss("kl_sae"), r.KlSpliced, 1e-5);
        Assert.Equal(Fixture.Loss("loss_recovered_sae"), r.LossRecovered, 1e-4);
        Assert.InRange(r.LossRecovered, 0.1, 0.99);
        Assert.InRange(r.Fvu, 1e-3, 10);
    }

    [Fact]
    public void The_saes_metrics_at_the_hook_are_the_evaluators_on_the_harvested_rows()
    {
        // One evaluator: what eval --model reports at the hook is what eval --data reports on a harvest of the same tokens.
        var sae = SaeModel.Load(Fixture.Sae);
        var atHook = Evaluate(sae, batch: 3).AtHook!;
        using var dir = new Scratch();
        Harvester.Run(new HarvestOptions(Fixture.Model, [Fixture.SpliceHook], dir["h"]), TokenSequences.FromNpy(Fixture.TokenIds));
        using var ds = ActivationDataset.Open(dir["h"], new LoaderOptions { EvalRows = long.MaxValue });
        var onFiles = Evaluator.Evaluate(sae, () => ds.OpenEvalStream(), ds.EvalRows);
        Assert.Equal(4L * Fixture.Context, ds.EvalRows);
        Assert.Equal((onFiles.Fvu, onFiles.Mse, onFiles.L0, onFiles.DeadFraction), (atHook.Fvu, atHook.Mse, atHook.L0, atHook.DeadFraction));
        Assert.Null(Evaluate(null).AtHook);
    }

    [Fact]
    public void Mean_ablation_feeds_the_hooks_mean_over_the_tokens()
    {
        var zero = Evaluate(null);
        var mean = Evaluate(null, Ablation.Mean);
        Assert.Equal(zero.CeClean, mean.CeClean, 1e-12);
        Assert.NotEqual(zero.CeAblated, mean.CeAblated);
        Assert.Equal(1.0, mean.LossRecovered, 1e-5);
    }

    [Fact]
    public void Results_do_not_depend_on_the_batch_size()
    {
        var a = Evaluate(null, batch: 1);
        var b = Evaluate(null, batch: 4);
        Assert.Equal(a.CeClean, b.CeClean, 1e-6);
        Assert.Equal(a.CeAblated, b.CeAblated, 1e-6);
    }

    [Fact]
    public void Cross_entropy_and_kl_follow_their_definitions_on_a_hand_checked_case()
    {
        // One sequence of two tokens over a vocabulary of two: CE at position 0 predicting token 1.
        float[] clean = [0, 0, 1, 0];
        float[] other = [0, (float)Math.Log(3), 0, 0];
        var (ceClean, ce, kls) = SpliceEvaluator.Compare(clean, [other, clean], [0L, 1L], 1, 2, 2);
        Assert.Equal(Math.Log(2), ceClean, 12);
        Assert.Equal(-Math.Log(0.75), ce[0], 6);
        Assert.Equal(ceClean, ce[1]);
        Assert.Equal(0, kls[1]);
        double kl = kls[0];
        double p1 = Math.E / (1 + Math.E);
        double expectedKl = 0.5 * Math.Log(0.5 / 0.25) + 0.5 * Math.Log(0.5 / 0.75) + p1 * Math.Log(p1 / 0.5) + (1 - p1) * Math.Log((1 - p1) / 0.5);
        Assert.Equal(expectedKl, kl, 6); // ln 3 went through float
    }
}
