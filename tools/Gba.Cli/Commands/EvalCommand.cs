using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Inference;
using GbaEngine.Evaluation;
using GbaEngine.Encoders;
using GbaEngine.Model;
using GbaEngine.Interop;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// gba eval --sae DIR --data FILE...: loads any SAE the engine reads (its own export or a run directory,
/// SAELens, sparsify), streams activation files through it and reports MSE, FVU, L0, fraction active and dead
/// fraction in the original activation space, with the training evaluator's definitions. --eval-tokens N takes
/// the last N rows, which are the rows `gba train --eval-tokens N` held out (when N is at most 10% of the data),
/// so the numbers can be set side by side with a run's summary.json. With --model M.onnx instead of --data:
/// loss recovered with the SAE spliced into the model (<see cref="LossRecoveredCommand"/>).
/// </summary>
public static class EvalCommand
{
    const string Files = "Activation files", Splice = "Loss recovered (with --model)";

    static readonly OptionSpec EvalTokens = OptionSpec.Valued("eval-tokens", Files, "N",
        "evaluate on the last N rows (what `gba train --eval-tokens N` holds out when N is at\nmost 10% of the rows); default: every row") with { Min = 1 };
    static readonly OptionSpec Out = OptionSpec.Valued("out", Files, "DIR", "with --ground-truth: write DIR/recovery.json (per-feature best cosines)");
    static readonly OptionSpec MpSteps = OptionSpec.Valued("mp-steps", Files, "T", "a matching-pursuit SAE (`gba train --method mp`): run T pursuit steps (default: as trained)") with { Min = 1 };

    /// <summary>The options that evaluate on activation files, which --model mode does not take.</summary>
    static readonly OptionSpec[] FileOptions =
        [SharedOptions.Data with { Group = Files }, EvalTokens, .. SharedOptions.Loader.Select(l => l with { Group = Files }), SharedOptions.GroundTruth with { Group = Files }, Out, MpSteps];

    /// <summary>`gba eval`'s options: both modes, each declared once.</summary>
    public static readonly OptionSchema Schema = new("eval",
        "MSE, FVU, L0 and dead fraction of a trained SAE (this engine's, SAELens, sparsify) on activation files;\n" +
        "with --model M.onnx: loss recovered and KL with the SAE spliced into the model",
        [
            SharedOptions.Sae,
            .. FileOptions,
            OnnxOptions.Model with { Group = Splice },
            LossRecoveredCommand.Hook, LossRecoveredCommand.Logits, LossRecoveredCommand.Ablation,
            OnnxOptions.Batch with { Group = Splice },
            .. OnnxOptions.Tokens,
            SharedOptions.Threads, SharedOptions.Kernels, SharedOptions.Json, SharedOptions.Quiet,
        ])
    {
        Usage = ["--sae DIR --data PATH... [--eval-tokens N] [--threads N] [--json]",
                 "--sae DIR --model M.onnx --hook NAME (--token-ids IDS.npy | --text FILE --tokenizer PATH) [--ablation zero|mean]"],
        Notes = """
            Metrics, in the original activation space: MSE per element, FVU = sum |x - xhat|^2 / sum |x - mean x|^2,
            L0 (active features per token), fraction active (L0 / d_sae), dead fraction (features never active).
            Results do not depend on --threads.

            With --model, the model runs three ways per batch: clean, with the hook replaced by the SAE's reconstruction
            (the graph is cut at the hook, whose consumers read the reconstruction), and ablated. CE is the mean next-token
            cross-entropy (nats) over positions 0..T-2; KL(clean || other) is averaged over every position; loss recovered
            is (CE_ablated - CE_spliced) / (CE_ablated - CE_clean). FVU, L0 and dead fraction at the hook are the metrics
            above, on the hook's activations for the same tokens.
            """,
    };

    /// <summary>Runs `gba eval` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        string saePath = o.Required(SharedOptions.Sae.Flag, "an SAE directory: this engine's export, SAELens or sparsify");
        if (o.Has(OnnxOptions.Model.Flag))
        {
            o.Reject(FileOptions.Select(s => s.Flag), "evaluates on activation files; with --model the activations come from the model");
            return LossRecoveredCommand.Run(o, saePath, stdout, stderr);
        }
        o.Reject(Schema.Options.Where(s => s.Group is Splice or "Tokens").Select(s => s.Flag), "goes with --model M.onnx (loss recovered)");
        var paths = SharedOptions.DataPaths(o);
        if (paths.Count == 0) throw new UsageException("--data PATH is required (the activation files to evaluate on)");
        var kernels = SharedOptions.ReadKernels(o);
        int threads = SharedOptions.ReadThreads(o);
        long? evalTokens = o.Has(EvalTokens.Flag) ? o.Long(EvalTokens.Flag, 0) : null;
        var loader = SharedOptions.ReadLoader(o) with { EvalRows = evalTokens ?? long.MaxValue };

        if (Interop.MatchingPursuitImport.IsMatchingPursuit(saePath)) return RunPursuit(o, saePath, paths, loader, threads, kernels, stdout);
        if (o.Has(MpSteps.Flag)) throw new UsageException($"--mp-steps: {saePath} is not a matching-pursuit SAE");

        var model = SaeModel.Load(saePath);
        if (kernels is { } k) model = model.WithKernels(k);
        using var dataset = ActivationDataset.Open(paths, loader);
        if (dataset.Dim != model.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE in {saePath} expects d_in = {model.Dim}.");
        long rows = dataset.EvalRows;

        var clock = Stopwatch.StartNew();
        var m = Evaluator.Evaluate(model, () => dataset.OpenEvalStream(), rows, threads);
        double seconds = clock.Elapsed.TotalSeconds;
        if (o.String(SharedOptions.GroundTruth.Flag) is { } truthPath)
        {
            var decoder = new float[(long)model.Features * model.Dim];
            for (int f = 0; f < model.Features; f++) model.DecoderRow(f).CopyTo(decoder.AsSpan(f * model.Dim, model.Dim));
            m = WithRecovery(m, truthPath, decoder, model.Features, model.Dim, model.Dim, threads, model.Kernels);
        }

        var ci = CultureInfo.InvariantCulture;
        string architecture = Interop.SaeLensExport.ArchitectureName(model.Activation) + (model.Activation == SaeActivation.TopK ? $" k={model.K}" : "");
        stdout.WriteLine($"sae {model.Source}  ({LayoutName(model.Layout)}, {architecture}, d_in {model.Dim}, d_sae {model.Features})");
        stdout.WriteLine(string.Create(ci, $"data {dataset.Describe()}: evaluated {(rows == dataset.UsedRows ? $"all {rows:N0}" : $"the last {rows:N0} of {dataset.UsedRows:N0}")} rows in {seconds:F1} s ({rows / Math.Max(seconds, 1e-9):N0} tokens/s, {threads} threads)"));
        PrintMetrics(stdout, m);
        WriteRecovery(o, m);
        if (o.Flag(SharedOptions.Json.Flag))
        {
            stdout.WriteLine(new JsonObject
            {
                ["sae"] = model.Source,
                ["layout"] = LayoutName(model.Layout),
                ["architecture"] = Interop.SaeLensExport.ArchitectureName(model.Activation),
                ["d_in"] = model.Dim,
                ["d_sae"] = model.Features,
                ["k"] = model.Activation == SaeActivation.TopK ? model.K : null,
                ["tokens"] = rows,
                ["fvu"] = double.IsFinite(m.Fvu) ? m.Fvu : null,
                ["explained_variance"] = double.IsFinite(m.Fvu) ? m.ExplainedVariance : null,
                ["mse"] = m.Mse,
                ["l0"] = m.L0,
                ["fraction_active"] = m.FractionActive,
                ["dead_fraction"] = m.DeadFraction,
                ["seconds"] = Math.Round(seconds, 3),
                ["tokens_per_second"] = Math.Round(rows / Math.Max(seconds, 1e-9), 1),
                ["threads"] = threads,
                ["kernels"] = model.Kernels.ToString().ToLowerInvariant(),
                ["frr_0_8"] = m.Frr08,
                ["frr_0_9"] = m.Frr09,
            }.ToResultJson());
        }
        return CliApp.Ok;
    }

    internal static void PrintMetrics(TextWriter stdout, EvaluationMetrics m)
    {
        var ci = CultureInfo.InvariantCulture;
        if (m.Frr08 is { } f8) stdout.WriteLine(string.Create(ci, $"  FRR@0.8 {f8:F4}   FRR@0.9 {m.Frr09:F4}   ({m.BestCosines!.Length} true features recovered by a decoder direction)"));
        stdout.WriteLine(string.Create(ci, $"  FVU {m.Fvu:F4}   explained variance {m.ExplainedVariance:F4}   MSE {m.Mse:G4}"));
        stdout.WriteLine(string.Create(ci, $"  L0 {m.L0:F2}   fraction active {m.FractionActive:G3}   dead fraction {m.DeadFraction:F4}"));
        stdout.Write("  log10 firing frequency histogram: ");
        for (int i = 0; i < m.FrequencyHistogram.Length; i++)
            if (m.FrequencyHistogram[i] > 0)
                stdout.Write(string.Create(ci, $"[{EvaluationMetrics.HistogramMinLog10 + i * EvaluationMetrics.HistogramBinWidth:F1}]={m.FrequencyHistogram[i]} "));
        stdout.WriteLine();
    }

    /// <summary>FRR and per-feature best cosines of the decoder rows [M × stride] against a --ground-truth file.</summary>
    static EvaluationMetrics WithRecovery(EvaluationMetrics m, string truthPath, ReadOnlySpan<float> decoder, int features, int dim, int stride, int threads,
        Kernels.KernelSet kernels)
    {
        var truth = GroundTruth.Load(truthPath, dim);
        var best = FeatureRecovery.BestCosines(truth, truth.Length / dim, decoder, features, dim, stride, threads, kernels: kernels);
        return m with { BestCosines = best, Frr08 = FeatureRecovery.Rate(best, 0.8), Frr09 = FeatureRecovery.Rate(best, 0.9) };
    }

    static void WriteRecovery(OptionReader o, EvaluationMetrics m)
    {
        if (o.String(Out.Flag) is not { } dir) return;
        if (m.BestCosines is null) throw new UsageException("--out writes recovery.json: it needs --ground-truth");
        Directory.CreateDirectory(dir);
        RecoveryFile.Write(dir, m, null);
    }

    /// <summary>An MP-SAE: the held-out rows in memory, the engine's evaluator with T pursuit steps.</summary>
    static int RunPursuit(OptionReader o, string saePath, List<string> paths, LoaderOptions loader, int threads, Kernels.KernelSet? kernels, TextWriter stdout)
    {
        var sae = Interop.MatchingPursuitImport.Read(saePath, kernels);
        int steps = o.Int(MpSteps.Flag, sae.Architecture.K);
        sae = MatchingPursuitEncoder.WithSteps(sae, steps);
        using var dataset = ActivationDataset.Open(paths, loader);
        if (dataset.Dim != sae.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE in {saePath} expects d_in = {sae.Dim}.");
        if (dataset.EvalRows * dataset.Dim > Array.MaxLength)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: {dataset.EvalRows:N0} rows are too many to hold for a matching-pursuit evaluation; use --eval-tokens.");
        var clock = Stopwatch.StartNew();
        EvaluationSet set;
        using (var stream = dataset.OpenEvalStream()) set = EvaluationSet.FromStream(stream, (int)dataset.EvalRows);
        var m = Evaluator.Evaluate(sae, set, null, threads);
        if (o.String(SharedOptions.GroundTruth.Flag) is { } truthPath)
            m = WithRecovery(m, truthPath, sae.Parameters.Decoder, sae.Neurons, sae.Dim, sae.Parameters.Stride, threads, sae.Kernels);
        double seconds = clock.Elapsed.TotalSeconds;
        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine($"sae {saePath}  (gba_engine, mp T={steps}, d_in {sae.Dim}, d_sae {sae.Neurons})");
        stdout.WriteLine(string.Create(ci, $"data {dataset.Describe()}: evaluated {set.Count:N0} rows in {seconds:F1} s ({threads} threads)"));
        PrintMetrics(stdout, m);
        WriteRecovery(o, m);
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["sae"] = saePath, ["layout"] = "gba_engine", ["architecture"] = "mp", ["mp_steps"] = steps, ["d_in"] = sae.Dim, ["d_sae"] = sae.Neurons,
                ["tokens"] = set.Count, ["fvu"] = double.IsFinite(m.Fvu) ? m.Fvu : null, ["mse"] = m.Mse, ["l0"] = m.L0,
                ["fraction_active"] = m.FractionActive, ["dead_fraction"] = m.DeadFraction, ["frr_0_8"] = m.Frr08, ["frr_0_9"] = m.Frr09,
                ["seconds"] = Math.Round(seconds, 3), ["threads"] = threads,
            }.ToResultJson());
        return CliApp.Ok;
    }

    static string LayoutName(SaeLayout layout) => layout switch
    {
        SaeLayout.GbaEngine => "gba_engine",
        SaeLayout.SaeLens => "saelens",
        SaeLayout.Sparsify => "sparsify",
        _ => "in_memory",
    };
}
