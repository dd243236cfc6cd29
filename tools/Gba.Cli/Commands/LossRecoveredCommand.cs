using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Inference;
using GbaEngine.Onnx.Evaluation;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// gba eval --sae DIR --model M.onnx --hook NAME (--token-ids IDS.npy | --text FILE --tokenizer PATH): the model's
/// next-token loss clean, with the SAE's reconstruction spliced in at the hook, and with the hook ablated; loss
/// recovered as SAELens defines it, and KL divergence to the clean model.
/// </summary>
public static class LossRecoveredCommand
{
    static readonly HashSet<string> ValueOptions = ["--sae", "--model", "--hook", "--logits", "--ablation", "--batch", "--threads", .. TokenInput.ValueOptions];
    static readonly HashSet<string> Flags = ["--json", "--quiet", "--help", "-h", .. TokenInput.Flags];

    public static readonly string Help = """
        gba eval --model: loss recovered by an SAE spliced into an ONNX model

        Usage: gba eval --sae DIR --model M.onnx --hook NAME (--token-ids IDS.npy | --text FILE --tokenizer PATH)

          --sae DIR            an SAE directory (this engine's export or run directory, SAELens, sparsify)
          --model M.onnx       the model the SAE's activations were harvested from (gba harvest)
          --hook NAME          the tensor the SAE reconstructs (as given to gba harvest --hook)
          --logits NAME        the logits output (default: the output whose last axis is the vocabulary)
          --ablation zero|mean the baseline: the hook replaced by zeros (default) or by its mean over the tokens
        """ + "\n" + TokenInput.Help + """

          --batch N            sequences per model run (default 8)   --threads N (default: all cores)
          --json (last stdout line: one JSON object)   --quiet (no progress)

        The model runs three ways per batch: clean, with the hook replaced by the SAE's reconstruction (the graph is
        cut at the hook, whose consumers read the reconstruction), and ablated. CE is the mean next-token cross-entropy
        (nats) over positions 0..T-2; KL(clean || other) is averaged over every position; loss recovered is
        (CE_ablated - CE_spliced) / (CE_ablated - CE_clean). FVU is the SAE's reconstruction error at the hook.

        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        if (o.Positional.Count > 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        string saePath = o.String("--sae") ?? throw new UsageException("--sae DIR is required");
        string model = o.String("--model") ?? throw new UsageException("--model M.onnx is required");
        string hook = o.String("--hook") ?? throw new UsageException("--hook NAME is required (the tensor the SAE was trained on; see gba harvest --list)");
        var ablation = o.Enum("--ablation", Ablation.Zero);
        int batch = o.Int("--batch", 8), threads = o.Int("--threads", Environment.ProcessorCount);
        if (batch < 1) throw new UsageException($"--batch {batch}: expected at least 1");
        if (threads < 1) throw new UsageException($"--threads {threads}: expected at least 1");
        var tokens = TokenInput.Read(o);
        var sae = SaeModel.Load(saePath);

        var progress = WorkProgress.For(stderr, o.Flag("--quiet"), "tokens", (long)tokens.Rows * tokens.Length);
        using var signals = new InterruptSignals("eval", stderr, "stopping after the current batch");
        var r = SpliceEvaluator.Evaluate(model, hook, tokens, sae, o.String("--logits"), ablation, batch, threads, new Reporter(progress.Report), signals.Token);

        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine($"sae {saePath}  (d_in {sae.Dim}, d_sae {sae.Features})  spliced into {model} at {hook}");
        stdout.WriteLine(string.Create(ci, $"tokens {r.Tokens:N0} ({r.Sequences:N0} sequences of {tokens.Length}), logits '{r.Logits}', {ablation.ToString().ToLowerInvariant()} ablation, {r.Seconds:F1} s"));
        stdout.WriteLine(string.Create(ci, $"  CE clean {r.CeClean:F4}   spliced {r.CeSpliced:F4}   ablated {r.CeAblated:F4}   (nats per token)"));
        stdout.WriteLine(string.Create(ci, $"  loss recovered {r.LossRecovered:F4}   KL spliced {r.KlSpliced:G4}   KL ablated {r.KlAblated:G4}   FVU at the hook {r.Fvu:F4}"));
        if (o.Flag("--json"))
            stdout.WriteLine(new JsonObject
            {
                ["sae"] = saePath, ["model"] = model, ["hook"] = hook, ["logits"] = r.Logits, ["ablation"] = ablation.ToString().ToLowerInvariant(),
                ["sequences"] = r.Sequences, ["tokens"] = r.Tokens,
                ["ce_clean"] = r.CeClean, ["ce_spliced"] = r.CeSpliced, ["ce_ablated"] = r.CeAblated,
                ["loss_recovered"] = double.IsFinite(r.LossRecovered) ? r.LossRecovered : null,
                ["kl_spliced"] = r.KlSpliced, ["kl_ablated"] = r.KlAblated, ["fvu"] = double.IsFinite(r.Fvu) ? r.Fvu : null,
                ["seconds"] = Math.Round(r.Seconds, 3), ["threads"] = threads,
            }.ToJsonString());
        return CliApp.Ok;
    }

    sealed class Reporter(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
