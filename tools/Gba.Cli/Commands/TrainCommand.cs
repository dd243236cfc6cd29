using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using static GbaEngine.Cli.Options.TrainOptions;
using GbaEngine.Cli.Runs;
using GbaEngine.Collectives;
using GbaEngine.Distributed;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;
using GbaEngine.Encoders;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba train` and `gba demo`: one option vocabulary. The demo is train with the embedded default
/// (<see cref="DemoDefaults"/>), chosen from measurement so that GBA recovers the features in well
/// under the 3-minute budget on a 2-core machine.
/// </summary>
public static class TrainCommand
{
    /// <summary>
    /// Runs `gba train` or `gba demo`; <paramref name="args"/> are the options <paramref name="o"/> parsed (a checkpoint
    /// saves them). Started as one of several MPI ranks (mpirun, srun: <see cref="MpiLaunch.Detect()"/>), it trains
    /// one SAE sharded over all of them.
    /// </summary>
    public static int Run(string command, OptionReader o, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr) =>
        MpiLaunch.Detect() is null ? RunOn(SingleProcessCommunicator.Instance, command, o, args, stdout, stderr)
            : RunRanks(command, o, args, stdout, stderr);

    /// <summary>
    /// One rank of a sharded run: rank 0 alone prints and writes the run's files (every rank writes its own
    /// checkpoints). A failure on any rank prints that rank's error and ends the whole job (MPI_Abort) with the
    /// exit code the single process would give, since the other ranks would wait for it in their next collective.
    /// </summary>
    static int RunRanks(string command, OptionReader o, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        MpiCommunicator comm;
        try { comm = (MpiCommunicator)ProcessGroup.Join(); }
        catch (MpiException e)
        {
            // Every rank fails alike here (no MPI to abort with): one message per rank, exit 1 from each.
            throw new InvalidOperationException($"started as a rank of {MpiLaunch.Detect()}, but MPI did not start: {e.Message}", e);
        }
        try
        {
            bool lead = comm.Rank == 0;
            int code = RunOn(comm, command, o, args, lead ? stdout : TextWriter.Null, lead ? stderr : TextWriter.Null);
            stdout.Flush();
            comm.Dispose();
            return code;
        }
        catch (Exception e)
        {
            int code = e switch { UsageException => CliApp.Usage, OperationCanceledException => CliApp.Interrupted, _ => CliApp.Failed };
            bool known = e is UsageException or IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or FormatException
                or Formats.ActivationFormatException or InvalidOperationException or NotSupportedException or TrainingDivergedException;
            stdout.Flush();
            stderr.WriteLine($"gba {command}: rank {comm.Rank} of {comm.Size}: {(known ? FlagTerms.Message(e) : e.ToString())} (ending all ranks)");
            stderr.Flush();
            comm.Abort(code);
            return code;
        }
    }

    static int RunOn(Communicator comm, string command, OptionReader o, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        if (comm.Size > 1 && o.Has("--sweep")) throw new UsageException("--sweep trains one point per process; it cannot run under mpirun/srun (give the point's options instead)");
        var resume = o.String("--resume") is { } from ? TrainCheckpoints.Open(from, command, args, stderr, comm)
            : o.Has("--sweep") ? ResumeSweepPoint(command, args, stderr) : null;
        if (resume != null) (command, o) = (resume.Command, TrainOptions.Reader(resume.Args));
        string? outDir = ConfigSources.Apply(o, Environment.GetEnvironmentVariable);
        return RunPoint(command, o, resume?.RunDirectory ?? outDir, stdout, stderr, resume, comm: comm);
    }

    /// <summary>
    /// A sweep point whose run directory already holds checkpoints (a cluster task preempted, killed or
    /// requeued) continues from them instead of starting over; null for a fresh point.
    /// </summary>
    static TrainCheckpoints.Resume? ResumeSweepPoint(string command, IReadOnlyList<string> args, TextWriter stderr)
    {
        var probe = TrainOptions.Reader(args);
        if (ConfigSources.Apply(probe, Environment.GetEnvironmentVariable) is not { } dir) return null;
        if (new Checkpoints.CheckpointStore(Path.Combine(dir, TrainCheckpoints.Folder)).List().Count == 0) return null;
        stderr.WriteLine($"gba {command}: {dir} holds checkpoints of this sweep point: resuming it");
        // --out names the sweep directory here, not the run directory being resumed.
        var given = TrainCheckpoints.Parse(args).Where(a => a.Name != "--out");
        return TrainCheckpoints.Open(dir, command, TrainCheckpoints.Format(given).ToList(), stderr);
    }

    /// <summary>
    /// Trains one run whose options are all in <paramref name="o"/>; a failure leaves --out/error.txt.
    /// <paramref name="openData"/> replaces opening the data (`gba sweep run` hands each run its view of a shared
    /// pass; such runs write no checkpoints, since their stream is the shared pass: rerun them by index instead).
    /// </summary>
    internal static int RunPoint(string command, OptionReader o, string? outDir, TextWriter stdout, TextWriter stderr,
        TrainCheckpoints.Resume? resume = null, Func<OptionReader, TrainerOptions, DataSource>? openData = null, Communicator? comm = null)
    {
        comm ??= SingleProcessCommunicator.Instance;
        bool lead = comm.Rank == 0;
        // One writer per run directory, for the run's whole life: a second `train --out`, a duplicate sweep --index
        // or a Slurm requeue beside a live task is refused here, before it touches a file (and writes no error.txt).
        // A dry run writes nothing, so it neither locks nor leaves error.txt.
        bool dry = o.Flag("--dry-run");
        using var runLock = outDir is null || dry || !lead ? null : RunLock.Acquire(outDir, resume is null ? "--out" : "--resume");
        try
        {
            return Train(command, o, outDir, stdout, stderr, resume, openData, comm);
        }
        catch (Exception e) when (outDir != null && !dry && lead && (e is SettingException || e is not (UsageException or OperationCanceledException)))
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, FailureFile), FlagTerms.Message(e) + "\n");
            throw;
        }
    }

    static int Train(string command, OptionReader o, string? outDir, TextWriter stdout, TextWriter stderr,
        TrainCheckpoints.Resume? resume, Func<OptionReader, TrainerOptions, DataSource>? openData, Communicator comm)
    {
        bool lead = comm.Rank == 0;   // the one rank that prints and writes the run's files
        // Paths after --data (a shell glob expands to several) are data files too.
        var dataPaths = SharedOptions.DataPaths(o);

        var options = TrainOptions.Trainer(o, demo: command == "demo");
        FlagTerms.ValidateTrainer(options);
        if (comm.Size > 1 && SaeTrainer.ShardingUnsupported(options) is { } unsharded) throw new UsageException(unsharded);
        if (comm.Size > options.Neurons) throw new UsageException($"--d-sae {options.Neurons} cannot be split over {comm.Size} MPI ranks: every rank needs at least one neuron");
        var mpSweep = ReadStepList(o, options);
        if (o.Has("--token-text") && dataPaths.Count == 0) throw new UsageException("--token-text goes with --data (it names each activation row's token)");
        var memory = openData is null ? Preflight(o, options, dataPaths) : null;
        using var data = openData?.Invoke(o, options)
            ?? (dataPaths.Count > 0 ? DataSource.Files(dataPaths, o, options.Seed) : DataSource.Synthetic(o, options.Seed));
        var text = o.String("--token-text") is { } textPath ? TokenText.Read(textPath) : null;
        if (text != null && text.Count != data.EvalRows!.Value.TokenCount)
            throw new InvalidDataException($"{text.Path}: {text.Count} token rows, but the activations have {data.EvalRows.Value.TokenCount} rows (they must align row by row).");
        var (train, eval, describe) = (data.Train, data.Eval, data.Description);
        // k_aux's default (d/2) needs the data's width: resolved here, so config.json and the checkpoint record the value used.
        options = options.WithResolvedAuxK(train.Dim);
        if (o.Flag("--dry-run"))
        {
            stdout.WriteLine($"gba {command} --dry-run: {TrainOptions.MethodName(options.Method).ToUpperInvariant()} M={options.Neurons} on {train.Describe()}; " +
                             $"{options.Steps} steps of {options.BatchSize} tokens ({options.Tokens:N0} tokens), {options.Threads} threads; nothing trained");
            if (memory != null) stdout.WriteLine($"gba {command} --dry-run: {memory.Describe(MemoryPlan.Available)}");
            if (options.BudgetWarning() is { } budget) stdout.WriteLine($"gba {command} --dry-run: warning: {budget}");
            return CliApp.Ok;
        }
        var exportFormat = ExportFormat(o, options, train.Dim);
        var metadata = ExportMetadata.Read(o, dataPaths, describe);
        if (dataPaths.Count > 0 && resume is null)
            foreach (var exportWarning in ExportMetadata.Warnings(metadata)) stderr.WriteLine($"gba {command}: warning: {exportWarning}");
        bool json = o.Flag("--json");
        if (outDir != null && lead)
        {
            Directory.CreateDirectory(outDir);
            if (resume is null) TrainCheckpoints.EnsureFresh(outDir, command);
            // A rerun into the same directory must not look finished (or failed) because of the previous run's files.
            File.Delete(Path.Combine(outDir, FailureFile));
            File.Delete(Path.Combine(outDir, "summary.json"));
        }
        // The checkpoint keeps the fully expanded command line (config-file and sweep options included), so --resume needs neither file.
        // Sharded: rank 0 has checked the directory before any rank writes its checkpoints there.
        if (comm.Size > 1) comm.Barrier();
        var schedule = openData is null ? TrainCheckpoints.Schedule(outDir, command, o.ToArgs(TrainOptions.Sources), o, options, data, comm) : null;

        using var trainer = new SaeTrainer(options, train.Dim, comm);
        if (resume != null) TrainCheckpoints.Continue(resume, command, trainer, data, stderr, lead ? JsonlLog.Line : null);
        using var signals = new InterruptSignals(command, stderr);
        stderr.WriteLine($"gba {command}: {TrainOptions.MethodName(options.Method).ToUpperInvariant()} M={options.Neurons} on {train.Describe()}; " +
                         $"{options.Steps} steps of {options.BatchSize} tokens, {options.Threads} threads, kernels {trainer.Model.Kernels}");
        if (comm.Size > 1)
        {
            var counts = trainer.Shard.Counts();
            string each = counts.Min() == counts.Max() ? $"{counts[0]}" : $"{counts.Max()} or {counts.Min()}";
            stderr.WriteLine($"gba {command}: running on {comm.Size} ranks, {each} of M = {options.Neurons} neurons each ({comm})");
        }
        if (options.BudgetWarning() is { } warning) stderr.WriteLine($"gba {command}: warning: {warning}");
        string? files = lead ? outDir : null;
        using var log = files is null ? null : new StreamWriter(Path.Combine(files, "metrics.jsonl"), append: resume != null);
        // Appended on resume: steps logged after the last checkpoint appear twice, and readers keep the later line.
        using var lossLog = files is null ? null : new StreamWriter(Path.Combine(files, LossLog.FileName), append: resume != null);
        using var biasLog = files is null || trainer.Groups is null ? null : new StreamWriter(Path.Combine(files, BiasLog.FileName), append: resume != null);
        var observers = new ObserverList(new ProgressDisplay(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error), o.Flag("--quiet")),
            log is null ? null : new JsonlLog(log), lossLog is null ? null : new LossLog(lossLog), biasLog is null ? null : new BiasLog(biasLog));
        if (files != null)
        {
            var effective = TrainOptions.Effective(options, data.Options);
            if (text != null) effective["token_text"] = Path.GetFullPath(text.Path);
            ExportMetadata.Record(o, effective);
            WriteConfig(Path.Combine(files, "config.json"), options, data.Config, effective);
        }

        TrainingResult result;
        try { result = trainer.Train(data.Train, eval, observers, signals.Token, schedule); }
        // Sharded, a signal on any rank stops every rank after the same step.
        catch (OperationCanceledException e) when (signals.Requested || comm.Size > 1) { return TrainCheckpoints.Interrupted(command, e, outDir, schedule, stderr, comm.Size); }
        PrintSummary(stdout, options, result);
        var summary = Summary(options, result);
        if (comm.Size > 1) summary["ranks"] = comm.Size;
        if (mpSweep != null) summary["mp_steps_sweep"] = PursuitStepSweep(stdout, mpSweep, options, result, eval);
        if (files != null)
        {
            RunArtefacts.Write(files, result, eval, options, text, data.EvalRows?.FirstRow ?? 0);
            if (result.Final.BestCosines != null) RecoveryFile.Write(files, result.Final, eval.FeatureFrequencies);
            string method = options.Method.ToString().ToLowerInvariant(), saeDir = Path.Combine(files, "sae");
            if (exportFormat == SparsifyFormat) Interop.SparsifyExport.Write(Path.Combine(saeDir, Hookpoint(metadata)), result.Model, method);
            else Interop.SaeLensExport.Write(saeDir, result.Model, method, result.Groups?.Assignment, metadata);
            // summary.json last: its presence marks a finished run (sweep summaries rely on it).
            RunConfig.WriteAtomically(Path.Combine(files, "summary.json"), summary);
        }
        if (json) stdout.WriteLine(summary.ToResultJson());
        return CliApp.Ok;
    }

    /// <summary>
    /// The memory the run will need, checked before the data or the trainer allocate anything: refused naming the
    /// flags to lower when it cannot fit (<see cref="MemoryPlan"/>). Files are opened only to read their width.
    /// </summary>
    static MemoryPlan Preflight(OptionReader o, TrainerOptions options, IReadOnlyList<string> dataPaths)
    {
        int dim;
        long evalTokens = Math.Max(1, o.Int("--eval-tokens", 16_384)), shuffleRows = 0;
        if (dataPaths.Count > 0)
        {
            using var probe = Activations.ActivationDataset.Open(dataPaths, SharedOptions.ReadLoader(o));
            dim = probe.Dim;
            evalTokens = Math.Min(evalTokens, probe.UsedRows / 10);
            shuffleRows = Math.Max(new Streams.StreamOptions().ChunkRows, Math.Min((256L << 20) / (4L * dim), 65536)); // the loader's default buffer
        }
        else dim = o.Int("--dim", DemoDefaults.Dim);
        var plan = MemoryPlan.Estimate(options, Math.Max(1, dim), evalTokens, shuffleRows);
        plan.EnsureFits(MemoryPlan.Available);
        return plan;
    }

    const string SaeLensFormat = "saelens", SparsifyFormat = "sparsify";

    /// <summary>--format, checked before training: a layout that cannot hold this SAE is refused now, not after the run.</summary>
    static string ExportFormat(OptionReader o, TrainerOptions options, int dim)
    {
        string format = o.String("--format") ?? SaeLensFormat;
        if (format is not (SaeLensFormat or SparsifyFormat)) throw new UsageException($"option --format: '{format}' is not a layout (expected saelens or sparsify)");
        if (format == SparsifyFormat && Interop.SparsifyExport.Unsupported(options.Architecture(dim), options.Normalization) is { } why)
            throw new UsageException($"--format sparsify: {why}");
        return format;
    }

    /// <summary>sparsify keeps one directory per hookpoint, named after it: the hook name, or "hookpoint" without one.</summary>
    static string Hookpoint(Interop.SaeLensMetadata m) =>
        m.HookName is { Length: > 0 } h && h.IndexOfAny(Path.GetInvalidFileNameChars()) < 0 && h is not ("." or "..") ? h : "hookpoint";

    /// <summary>Written into --out when training fails, so `gba sweep summarize` can tell failed runs from unfinished ones.</summary>
    public const string FailureFile = "error.txt";

    static void PrintSummary(TextWriter w, TrainerOptions o, TrainingResult r)
    {
        var m = r.Final;
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(ci, $"method {TrainOptions.MethodName(o.Method).ToUpperInvariant()}  M={o.Neurons}  tokens {r.Tokens:N0}  {r.Seconds:F1} s  {r.TokensPerSecond:N0} tokens/s"));
        if (m.Frr08 is { } f8) w.WriteLine(string.Create(ci, $"  FRR@0.8 {f8:F4}   FRR@0.9 {m.Frr09:F4}   (true features recovered by a decoder direction)"));
        w.WriteLine(string.Create(ci, $"  FVU {m.Fvu:F4}   explained variance {m.ExplainedVariance:F4}   MSE {m.Mse:G4}"));
        w.WriteLine(string.Create(ci, $"  L0 {m.L0:F2}   fraction active {m.FractionActive:G3}   dead fraction {m.DeadFraction:F4}"));
        if (r.Model.Architecture.ReluThreshold > 0)
            w.WriteLine(string.Create(ci, $"  inference threshold {r.Model.Architecture.ReluThreshold:G4} (ReLU fires when y > it; estimated in training)"));
        if (m.Groups.Count > 0)
        {
            w.WriteLine("  group  TAF        neurons  mean freq   median freq  dead");
            foreach (var g in m.Groups)
                w.WriteLine(string.Create(ci, $"  {g.Group,5}  {g.TargetFrequency,-9:G3}  {g.Neurons,7}  {g.MeanFrequency,-10:G3}  {g.MedianFrequency,-11:G3}  {g.Dead,4}"));
        }
        w.Write("  log10 firing frequency histogram: ");
        for (int i = 0; i < m.FrequencyHistogram.Length; i++)
            if (m.FrequencyHistogram[i] > 0)
                w.Write(string.Create(ci, $"[{EvaluationMetrics.HistogramMinLog10 + i * EvaluationMetrics.HistogramBinWidth:F1}]={m.FrequencyHistogram[i]} "));
        w.WriteLine();
    }

    internal static JsonObject Summary(TrainerOptions o, TrainingResult r)
    {
        var m = r.Final;
        return new JsonObject
        {
            ["method"] = TrainOptions.MethodName(o.Method),
            ["frr_0_8"] = m.Frr08,
            ["frr_0_9"] = m.Frr09,
            ["fvu"] = m.Fvu,
            ["mse"] = m.Mse,
            ["l0"] = m.L0,
            ["fraction_active"] = m.FractionActive,
            ["dead_fraction"] = m.DeadFraction,
            ["tokens"] = r.Tokens,
            ["steps"] = r.Steps,
            ["seconds"] = Math.Round(r.Seconds, 3),
            ["tokens_per_second"] = Math.Round(r.TokensPerSecond, 1),
            ["d_sae"] = o.Neurons,
            ["threads"] = o.Threads,
            ["seed"] = o.Seed,
            ["kernels"] = (o.Kernels ?? Kernels.KernelSelector.Current).ToString().ToLowerInvariant(),
        };
    }

    /// <summary>MP-SAE's inference-time choice of T: the trained dictionary evaluated at each listed step count.</summary>
    static JsonArray PursuitStepSweep(TextWriter w, int[] steps, TrainerOptions o, TrainingResult r, EvaluationSet eval)
    {
        var rows = new JsonArray();
        w.WriteLine("  MP steps at inference   FVU       L0      FRR@0.8  FRR@0.9");
        foreach (int t in steps)
        {
            var m = Evaluator.Evaluate(MatchingPursuitEncoder.WithSteps(r.Model, t), eval, null, o.Threads);
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {t,21}   {m.Fvu,-8:F4}  {m.L0,-6:F2}  {m.Frr08,-7:F4}  {m.Frr09:F4}"));
            rows.Add(new JsonObject { ["steps"] = t, ["fvu"] = m.Fvu, ["l0"] = m.L0, ["frr_0_8"] = m.Frr08, ["frr_0_9"] = m.Frr09 });
        }
        return rows;
    }

    static int[]? ReadStepList(OptionReader o, TrainerOptions options)
    {
        if (o.String("--eval-mp-steps") is not { } list) return null;
        if (options.Method != TrainingMethod.Mp) throw new UsageException("--eval-mp-steps needs --method mp");
        return list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(x =>
            int.TryParse(x, NumberStyles.Integer, CultureInfo.InvariantCulture, out int t) && t >= 1 ? t
                : throw new UsageException($"option --eval-mp-steps: '{x}' is not a step count >= 1")).ToArray();
    }

    /// <summary>config.json: "options" is loadable by --config (repeats the run); the rest records what ran.</summary>
    static void WriteConfig(string path, TrainerOptions o, JsonNode dataConfig, JsonObject effective)
    {
        var cfg = new JsonObject
        {
            ["options"] = effective,
            ["trainer"] = TrainerOptionsJson.Write(o),
            ["data"] = dataConfig.DeepClone(),
            ["kernels"] = (o.Kernels ?? Kernels.KernelSelector.Current).ToString().ToLowerInvariant(),
        };
        RunConfig.WriteAtomically(path, cfg);
    }

    sealed class JsonlLog(StreamWriter w) : ITrainingObserver
    {
        public void OnEvaluation(EvaluationReport r)
        {
            w.WriteLine(Line(r));
            w.Flush();
        }

        /// <summary>One metrics.jsonl line (also how a resumed run rewrites the lines before its checkpoint).</summary>
        public static string Line(EvaluationReport r)
        {
            var m = r.Metrics;
            var row = new JsonObject
            {
                ["step"] = r.Step, ["tokens"] = r.Tokens, ["seconds"] = Math.Round(r.Seconds, 3),
                ["fvu"] = m.Fvu, ["mse"] = m.Mse, ["l0"] = m.L0, ["dead_fraction"] = m.DeadFraction,
                ["frr_0_8"] = m.Frr08, ["frr_0_9"] = m.Frr09,
                ["groups"] = new JsonArray(m.Groups.Select(g => (JsonNode)new JsonObject
                {
                    ["taf"] = g.TargetFrequency, ["mean_frequency"] = g.MeanFrequency, ["median_frequency"] = g.MedianFrequency, ["dead"] = g.Dead,
                }).ToArray()),
            };
            return row.ToResultJson();
        }
    }

    sealed class ObserverList(params ITrainingObserver?[] observers) : ITrainingObserver
    {
        readonly ITrainingObserver[] _all = observers.OfType<ITrainingObserver>().ToArray();
        public void OnStep(in StepReport r) { foreach (var o in _all) o.OnStep(r); }
        public void OnEvaluation(EvaluationReport r) { foreach (var o in _all) o.OnEvaluation(r); }
        public void OnBiasUpdate(BiasUpdateReport r) { foreach (var o in _all) o.OnBiasUpdate(r); }
    }
}
