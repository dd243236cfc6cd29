using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Inference;
using GbaEngine.Onnx.Evaluation;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// gba eval --sae DIR --model M.onnx --hook NAME (--token-ids IDS.npy | --text FILE --tokenizer PATH): the model's
/// next-token loss clean, with the SAE's reconstruction spliced in at the hook, and with the hook ablated; loss
/// recovered as SAELens defines it, KL divergence to the clean model, and the SAE's metrics at the hook. Its
/// options are part of <see cref="EvalCommand.Schema"/>.
/// </summary>
public static class LossRecoveredCommand
{
    const string Group = "Loss recovered (with --model)";

    /// <summary>--hook NAME: the tensor the SAE reconstructs.</summary>
    public static readonly OptionSpec Hook = OptionSpec.Valued("hook", Group, "NAME", "the tensor the SAE reconstructs (as given to gba harvest --hook)");
    /// <summary>--logits NAME.</summary>
    public static readonly OptionSpec Logits = OptionSpec.Valued("logits", Group, "NAME", "the logits output (default: the output whose last axis is the vocabulary)");
    /// <summary>--ablation zero|mean.</summary>
    public static readonly OptionSpec Ablation = OptionSpec.Valued("ablation", Group, "zero|mean", "the baseline: the hook replaced by zeros (default) or by its mean over the tokens");

    /// <summary>Runs `gba eval --model` with its parsed options.</summary>
    public static int Run(OptionReader o, string saePath, TextWriter stdout, TextWriter stderr)
    {
        o.NoPositional();
        string model = o.Required(OnnxOptions.Model.Flag);
        string hook = o.Required(Hook.Flag, "the tensor the SAE was trained on; see gba harvest --list");
        var ablation = o.Enum(Ablation.Flag, Onnx.Evaluation.Ablation.Zero);
        int batch = OnnxOptions.ReadBatch(o), threads = SharedOptions.ReadThreads(o);
        var kernels = SharedOptions.ReadKernels(o);
        var tokens = OnnxOptions.ReadTokens(o);
        var sae = SaeModel.Load(saePath);
        if (kernels is { } k) sae = sae.WithKernels(k);

        var progress = WorkProgress.For(stderr, o.Flag(SharedOptions.Quiet.Flag), "tokens", (long)tokens.Rows * tokens.Length);
        using var signals = new InterruptSignals("eval", stderr, "stopping after the current batch");
        var r = SpliceEvaluator.Evaluate(model, hook, tokens, sae, o.String(Logits.Flag), ablation, batch, threads, new Reporter(progress.Report), signals.Token);
        var m = r.AtHook!;

        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine($"sae {saePath}  (d_in {sae.Dim}, d_sae {sae.Features})  spliced into {model} at {hook}");
        stdout.WriteLine(string.Create(ci, $"tokens {r.Tokens:N0} ({r.Sequences:N0} sequences of {tokens.Length}), logits '{r.Logits}', {ablation.ToString().ToLowerInvariant()} ablation, {r.Seconds:F1} s"));
        stdout.WriteLine(string.Create(ci, $"  CE clean {r.CeClean:F4}   spliced {r.CeSpliced:F4}   ablated {r.CeAblated:F4}   (nats per token)"));
        stdout.WriteLine(string.Create(ci, $"  loss recovered {r.LossRecovered:F4}   KL spliced {r.KlSpliced:G4}   KL ablated {r.KlAblated:G4}"));
        stdout.WriteLine(string.Create(ci, $"  at the hook: FVU {m.Fvu:F4}   L0 {m.L0:F2}   dead fraction {m.DeadFraction:F4}"));
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["sae"] = saePath, ["model"] = model, ["hook"] = hook, ["logits"] = r.Logits, ["ablation"] = ablation.ToString().ToLowerInvariant(),
                ["sequences"] = r.Sequences, ["tokens"] = r.Tokens,
                ["ce_clean"] = r.CeClean, ["ce_spliced"] = r.CeSpliced, ["ce_ablated"] = r.CeAblated,
                ["loss_recovered"] = double.IsFinite(r.LossRecovered) ? r.LossRecovered : null,
                ["kl_spliced"] = r.KlSpliced, ["kl_ablated"] = r.KlAblated,
                ["fvu"] = double.IsFinite(m.Fvu) ? m.Fvu : null, ["mse"] = m.Mse, ["l0"] = m.L0, ["dead_fraction"] = m.DeadFraction,
                ["seconds"] = Math.Round(r.Seconds, 3), ["threads"] = threads, ["kernels"] = sae.Kernels.ToString().ToLowerInvariant(),
            }.ToResultJson());
        return CliApp.Ok;
    }

    sealed class Reporter(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
