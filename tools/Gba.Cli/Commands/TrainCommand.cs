using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Config;
using GbaEngine.Cli.Runs;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Metrics;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba train` and `gba demo`: one option vocabulary. The demo is train with the embedded default
/// (<see cref="DemoDefaults"/>), chosen from measurement so that GBA recovers the features in well
/// under the 3-minute budget on a 2-core machine.
/// </summary>
public static class TrainCommand
{
    internal static readonly HashSet<string> ValueOptions =
    [
        "--method", "--d-sae", "--batch", "--steps", "--tokens", "--lr", "--weight-decay", "--seed", "--threads",
        "--groups", "--htf", "--ltf", "--taf", "--k", "--gate", "--bias-init", "--buffer-tokens", "--init-tokens",
        "--normalize", "--eval-every", "--eval-tokens", "--features", "--dim", "--sparsity", "--profile", "--exponent",
        "--noise", "--magnitude-min", "--magnitude-max", "--out", "--kernels",
        "--data", "--dtype", "--tensor", "--row-limit", "--model-name", "--hook-name", "--resume", "--checkpoint-every", "--keep-checkpoints",
        "--config", "--sweep", "--index", "--token-text", "--ground-truth", "--data-seed",
        "--l1", "--l1-warmup", "--l0-coefficient", "--ste-bandwidth", "--threshold-init", "--threshold-decay",
        "--mp-steps", "--eval-mp-steps", "--mix-sparsity", "--mix-fraction",
        "--lr-warmup", "--lr-schedule", "--lr-decay-start", "--aux-k", "--aux-k-coefficient", "--dead-tokens", "--resample-every",
    ];
    internal static readonly HashSet<string> Flags = ["--json", "--untied", "--quiet", "--help", "-h", "--skip-nonfinite"];
    internal static readonly HashSet<string> Repeatable = ["--data"];

    /// <summary>The embedded default problem of `gba demo` (README: "The demo").</summary>
    public static class DemoDefaults
    {
        public const int Features = 512, Dim = 64, Sparsity = 3, Neurons = 2048, Batch = 512, Groups = 3;
        public const double Htf = 0.024, Ltf = 0.012, LearningRate = 3e-3;
        public const long Tokens = 512L * 6000;
    }

    public static int Run(string command, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags, Repeatable);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help(command)); return CliApp.Ok; }
        var resume = o.String("--resume") is { } from ? TrainCheckpoints.Open(from, command, args, ValueOptions, stderr)
            : o.Has("--sweep") ? ResumeSweepPoint(command, args, stderr) : null;
        if (resume != null) (command, o) = (resume.Command, new OptionReader(resume.Args, ValueOptions, Flags, Repeatable));
        string? outDir = ConfigSources.Apply(o, Environment.GetEnvironmentVariable);
        return RunPoint(command, o, resume?.RunDirectory ?? outDir, stdout, stderr, resume);
    }

    /// <summary>
    /// A sweep point whose run directory already holds checkpoints (a cluster task preempted, killed or
    /// requeued) continues from them instead of starting over; null for a fresh point.
    /// </summary>
    static TrainCheckpoints.Resume? ResumeSweepPoint(string command, IReadOnlyList<string> args, TextWriter stderr)
    {
        var probe = new OptionReader(args, ValueOptions, Flags, Repeatable);
        if (ConfigSources.Apply(probe, Environment.GetEnvironmentVariable) is not { } dir) return null;
        if (new Checkpoints.CheckpointStore(Path.Combine(dir, TrainCheckpoints.Folder)).List().Count == 0) return null;
        stderr.WriteLine($"gba {command}: {dir} holds checkpoints of this sweep point: resuming it");
        // --out names the sweep directory here, not the run directory being resumed.
        var given = TrainCheckpoints.Parse(args, ValueOptions).Where(a => a.Name != "--out");
        return TrainCheckpoints.Open(dir, command, TrainCheckpoints.Format(given).ToList(), ValueOptions, stderr);
    }

    /// <summary>Options that pick a run's options (expanded into the reader): not part of the command line a checkpoint saves.</summary>
    static readonly HashSet<string> OptionSources = ["--config", "--sweep", "--index"];

    /// <summary>
    /// Trains one run whose options are all in <paramref name="o"/>; a failure leaves --out/error.txt.
    /// <paramref name="openData"/> replaces opening the data (`gba sweep run` hands each run its view of a shared
    /// pass; such runs write no checkpoints, since their stream is the shared pass: rerun them by index instead).
    /// </summary>
    internal static int RunPoint(string command, OptionReader o, string? outDir, TextWriter stdout, TextWriter stderr,
        TrainCheckpoints.Resume? resume = null, Func<OptionReader, TrainerOptions, DataSource>? openData = null)
    {
        try
        {
            return Train(command, o, outDir, stdout, stderr, resume, openData);
        }
        catch (Exception e) when (outDir != null && e is not (UsageException or OperationCanceledException))
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, FailureFile), e.Message + "\n");
            throw;
        }
    }

    static int Train(string command, OptionReader o, string? outDir, TextWriter stdout, TextWriter stderr,
        TrainCheckpoints.Resume? resume, Func<OptionReader, TrainerOptions, DataSource>? openData)
    {
        // Paths after --data (a shell glob expands to several) are data files too.
        var dataPaths = o.Strings("--data").Concat(o.Positional).ToList();
        if (o.Positional.Count > 0 && o.Strings("--data").Count == 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        if (o.String("--kernels") is { } k) Kernels.KernelSelector.Force(Kernels.KernelSelector.Parse(k));

        var options = ReadTrainerOptions(o, demo: command == "demo");
        options.Validate();
        var mpSweep = ReadStepList(o, options);
        if (o.Has("--token-text") && dataPaths.Count == 0) throw new UsageException("--token-text goes with --data (it names each activation row's token)");
        using var data = openData?.Invoke(o, options)
            ?? (dataPaths.Count > 0 ? DataSource.Files(dataPaths, o, options.Seed) : DataSource.Synthetic(o, options.Seed));
        var text = o.String("--token-text") is { } textPath ? TokenText.Read(textPath) : null;
        if (text != null && text.Count != data.EvalRows!.Value.TokenCount)
            throw new InvalidDataException($"{text.Path}: {text.Count} token rows, but the activations have {data.EvalRows.Value.TokenCount} rows (they must align row by row).");
        var (train, eval, describe) = (data.Train, data.Eval, data.Description);
        bool json = o.Flag("--json");
        if (outDir != null)
        {
            Directory.CreateDirectory(outDir);
            if (resume is null) TrainCheckpoints.EnsureFresh(outDir, command);
            // A rerun into the same directory must not look finished (or failed) because of the previous run's files.
            File.Delete(Path.Combine(outDir, FailureFile));
            File.Delete(Path.Combine(outDir, "summary.json"));
        }
        // The checkpoint keeps the fully expanded command line (config-file and sweep options included), so --resume needs neither file.
        var schedule = openData is null ? TrainCheckpoints.Schedule(outDir, command, o.ToArgs(OptionSources), ValueOptions, o, options, data) : null;

        using var trainer = new SaeTrainer(options, train.Dim);
        if (resume != null) TrainCheckpoints.Continue(resume, command, trainer, data, stderr, JsonlLog.Line);
        using var signals = new InterruptSignals(command, stderr);
        stderr.WriteLine($"gba {command}: {MethodName(options.Method).ToUpperInvariant()} M={options.Neurons} on {train.Describe()}; " +
                         $"{options.Steps} steps of {options.BatchSize} tokens, {options.Threads} threads, kernels {Kernels.KernelSelector.Current}");
        using var log = outDir is null ? null : new StreamWriter(Path.Combine(outDir, "metrics.jsonl"), append: resume != null);
        // Appended on resume: steps logged after the last checkpoint appear twice, and readers keep the later line.
        using var lossLog = outDir is null ? null : new StreamWriter(Path.Combine(outDir, LossLog.FileName), append: resume != null);
        var observers = new ObserverList(new ProgressDisplay(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error), o.Flag("--quiet")),
            log is null ? null : new JsonlLog(log), lossLog is null ? null : new LossLog(lossLog));
        if (outDir != null)
        {
            var effective = ConfigSources.Effective(options, data.Options, train.Dim);
            if (text != null) effective["token_text"] = Path.GetFullPath(text.Path);
            foreach (var name in new[] { "--model-name", "--hook-name" })
                if (o.String(name) is { } v) effective[name[2..].Replace('-', '_')] = v;
            WriteConfig(Path.Combine(outDir, "config.json"), options, data.Config, effective);
        }

        TrainingResult result;
        try { result = trainer.Train(data.Train, eval, observers, signals.Token, schedule); }
        catch (OperationCanceledException e) when (signals.Requested) { return TrainCheckpoints.Interrupted(command, e, outDir, schedule, stderr); }
        PrintSummary(stdout, options, result);
        var summary = Summary(options, result);
        if (mpSweep != null) summary["mp_steps_sweep"] = PursuitStepSweep(stdout, mpSweep, options, result, eval);
        if (outDir != null)
        {
            RunArtefacts.Write(outDir, result, eval, options, text, data.EvalRows?.FirstRow ?? 0);
            if (result.Final.BestCosines != null) RecoveryFile.Write(outDir, result.Final, eval.FeatureFrequencies);
            Interop.SaeLensExport.Write(Path.Combine(outDir, "sae"), result.Model, options, result.Groups,
                new Dictionary<string, string?> { ["dataset"] = describe, ["model_name"] = o.String("--model-name"), ["hook_name"] = o.String("--hook-name") });
            // summary.json last: its presence marks a finished run (sweep summaries rely on it).
            RunConfig.WriteAtomically(Path.Combine(outDir, "summary.json"), summary);
        }
        if (json) stdout.WriteLine(summary.ToJsonString());
        return CliApp.Ok;
    }

    /// <summary>Written into --out when training fails, so `gba sweep summarize` can tell failed runs from unfinished ones.</summary>
    public const string FailureFile = "error.txt";

    internal static TrainerOptions ReadTrainerOptions(OptionReader o, bool demo)
    {
        // The demo's TAF band and learning rate are tuned to its problem; `train` starts from the paper's defaults.
        var paper = new TrainerOptions();
        var method = o.Enum("--method", TrainingMethod.Gba);
        int batch = o.Int("--batch", DemoDefaults.Batch);
        long tokens = o.Has("--steps") ? o.Long("--steps", 0) * batch : o.Long("--tokens", DemoDefaults.Tokens);
        if (o.Has("--steps") && o.Has("--tokens")) throw new UsageException("give --steps or --tokens, not both");
        return new TrainerOptions
        {
            Method = method,
            Neurons = o.Int("--d-sae", DemoDefaults.Neurons),
            Tied = !o.Flag("--untied"),
            Gate = o.Enum("--gate", GateKind.JumpRelu),
            K = o.Int("--k", 3),
            MpSteps = o.Int("--mp-steps", 3),
            Groups = o.Int("--groups", demo ? DemoDefaults.Groups : paper.Groups),
            Htf = o.Double("--htf", demo ? DemoDefaults.Htf : paper.Htf),
            Ltf = o.Double("--ltf", demo ? DemoDefaults.Ltf : paper.Ltf),
            Taf = o.Double("--taf", 0.012),
            BiasInit = o.Enum("--bias-init", BiasInitialization.Quantile),
            BufferTokens = o.Long("--buffer-tokens", 25_600),
            InitTokens = o.Int("--init-tokens", 25_600),
            BatchSize = batch,
            Tokens = tokens,
            LearningRate = o.Double("--lr", demo ? DemoDefaults.LearningRate : paper.LearningRate),
            WeightDecay = o.Double("--weight-decay", 0),
            Seed = o.ULong("--seed", 1),
            Threads = o.Int("--threads", Environment.ProcessorCount),
            Normalization = o.Enum("--normalize", InputNormalization.DatasetScale),
            EvalEvery = o.Int("--eval-every", 500),
            L1Coefficient = o.Double("--l1", paper.L1Coefficient),
            L1Warmup = o.Double("--l1-warmup", paper.L1Warmup),
            L0Coefficient = o.Double("--l0-coefficient", paper.L0Coefficient),
            SteBandwidth = o.Double("--ste-bandwidth", paper.SteBandwidth),
            InitialThreshold = o.Double("--threshold-init", paper.InitialThreshold),
            ThresholdDecay = o.Double("--threshold-decay", paper.ThresholdDecay),
            LrWarmup = o.Double("--lr-warmup", paper.LrWarmup),
            LrSchedule = o.Enum("--lr-schedule", paper.LrSchedule),
            LrDecayStart = o.Double("--lr-decay-start", paper.LrDecayStart),
            AuxK = o.Has("--aux-k") ? o.Int("--aux-k", 0) : null,
            AuxKCoefficient = o.Double("--aux-k-coefficient", paper.AuxKCoefficient),
            DeadTokens = o.Has("--dead-tokens") ? o.Long("--dead-tokens", 0) : null,
            ResampleEvery = o.Int("--resample-every", 0),
        };
    }

    static void PrintSummary(TextWriter w, TrainerOptions o, TrainingResult r)
    {
        var m = r.Final;
        var ci = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(ci, $"method {MethodName(o.Method).ToUpperInvariant()}  M={o.Neurons}  tokens {r.Tokens:N0}  {r.Seconds:F1} s  {r.TokensPerSecond:N0} tokens/s"));
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
            ["method"] = MethodName(o.Method),
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
            ["kernels"] = Kernels.KernelSelector.Current.ToString().ToLowerInvariant(),
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

    /// <summary>The method as --method spells it.</summary>
    internal static string MethodName(TrainingMethod method) => method == TrainingMethod.JumpReluL0 ? "jumprelu-l0" : method.ToString().ToLowerInvariant();

    /// <summary>config.json: "options" is loadable by --config (repeats the run); the rest records what ran.</summary>
    static void WriteConfig(string path, TrainerOptions o, JsonNode dataConfig, JsonObject effective)
    {
        var cfg = new JsonObject
        {
            ["options"] = effective,
            ["trainer"] = JsonSerializer.SerializeToNode(o, JsonOptions),
            ["data"] = dataConfig.DeepClone(),
            ["kernels"] = Kernels.KernelSelector.Current.ToString().ToLowerInvariant(),
        };
        RunConfig.WriteAtomically(path, cfg);
    }

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

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
            return row.ToJsonString();
        }
    }

    sealed class ObserverList(params ITrainingObserver?[] observers) : ITrainingObserver
    {
        readonly ITrainingObserver[] _all = observers.OfType<ITrainingObserver>().ToArray();
        public void OnStep(in StepReport r) { foreach (var o in _all) o.OnStep(r); }
        public void OnEvaluation(EvaluationReport r) { foreach (var o in _all) o.OnEvaluation(r); }
        public void OnBiasUpdate(long step, BiasUpdateSummary s) { foreach (var o in _all) o.OnBiasUpdate(step, s); }
    }

    static string Help(string command) => command == "demo"
        ? $"""
          gba demo: train GBA on the embedded default and print the metrics

          Default: synthetic data from the paper's model with n={DemoDefaults.Features} unit Gaussian features in
          d={DemoDefaults.Dim}, s={DemoDefaults.Sparsity} active per token (f = s/n), magnitudes U(0.5, 1.5); a tied JumpReLU SAE
          with M={DemoDefaults.Neurons} neurons trained by GBA with K={DemoDefaults.Groups} groups, TAFs {DemoDefaults.Htf} -> {DemoDefaults.Ltf} (4x to 2x the true
          frequency), AdamW lr {DemoDefaults.LearningRate}, batch {DemoDefaults.Batch}, {DemoDefaults.Tokens:N0} tokens. Every 'gba train' option overrides it.

          """ + Options
        : "gba train: train an SAE on activation files (--data) or on synthetic data from the paper's model\n\n" + Options;

    const string Options = """
        Method:      --method gba|ba|topk|l1|batchtopk|jumprelu-l0|mp   --d-sae M   --gate jumprelu|relu   --untied
                     GBA: --groups K --htf P --ltf P   BA: --taf P   both: --bias-init quantile|zero --buffer-tokens N
                     TopK: --k K (per token)   BatchTopK: --k K (mean per token; the batch keeps k*B) --threshold-decay X
                     L1: --l1 LAMBDA (penalty LAMBDA*sum |a_m|*||w_m||*h_m, decoder not renormalised) --l1-warmup FRACTION
                     JumpReLU-L0: --l0-coefficient LAMBDA --ste-bandwidth EPS --threshold-init THETA   --init-tokens N
                     MP: --mp-steps T (matching-pursuit steps)   --eval-mp-steps T1,T2,... (also evaluate at these T)
                     Dead latents (not fired in the last N tokens): --dead-tokens N (default: AuxK min(10M, budget/10);
                     resampling half the interval)   TopK, BatchTopK: --aux-k K (AuxK on by default with K = d/2; 0: off)
                     --aux-k-coefficient ALPHA (1/32)   L1, JumpReLU-L0: --resample-every STEPS (default 0: never)
        Budget:      --batch B   --steps S | --tokens N (suffix k/M/G)   --lr X   --weight-decay X   --seed S   --threads T
                     --lr-warmup FRACTION (linear from 0; default 0)   --lr-schedule constant|cosine|linear (default constant)
                     --lr-decay-start FRACTION (where cosine/linear decay towards 0 begins; default 0.8)
                     --normalize datasetscale|pertoken   --eval-every STEPS   --eval-tokens N   --kernels scalar|avx2|avx512
        Synthetic:   --features n   --dim d   --sparsity s   --profile uniform|powerlaw   --exponent A   --noise SIGMA
                     --magnitude-min X   --magnitude-max X   --mix-sparsity S2 --mix-fraction F   --data-seed S (seed of the synthetic problem or of the file shuffle; default --seed)
        Data files:  --data PATH... (.npy, .safetensors, raw; files, directories or globs; repeatable)   --dtype f32|f16|bf16 --dim d (raw)
                     --tensor NAME (safetensors)   --row-limit N   --skip-nonfinite   --eval-tokens N (held out: the last rows, at most 10%)
                     --ground-truth FILE.npy (true features [n x d], e.g. from gba synth: FRR and per-feature best cosines, recovery.json)
                     --token-text FILE.tsv (token text per activation row: top-activating tokens in the report)
        Config:      --config FILE (JSON object of these options without the dashes, e.g. {"d_sae": 4096, "data": ["a.npy"]};
                     flags override it; a run's config.json repeats the run)
                     --sweep FILE --index I (point I of a gba sweep grid, into SWEEP_DIR/run-III; SLURM_ARRAY_TASK_ID if no --index)
        Output:      --out DIR (config.json, metrics.jsonl, loss.jsonl, neurons.json, summary.json, sae/ in the SAELens layout,
                     top_activations.json with --token-text; error.txt if the run failed)   --json (last stdout line: one JSON object)   --quiet
                     --model-name NAME --hook-name NAME (recorded in sae/cfg.json for SAELens / SAEBench, e.g. gpt2 blocks.6.hook_resid_post)
        Checkpoints: --checkpoint-every STEPS (default 1000; 0: only at the end and on Ctrl-C/SIGTERM) into DIR/checkpoints/
                     --keep-checkpoints K (default 3)   --resume DIR (continue the run in DIR exactly; saved options apply,
                     --steps/--tokens may grow it; Ctrl-C stops after the current step with a checkpoint, twice at once)

        """;
}
