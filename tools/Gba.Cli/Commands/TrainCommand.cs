using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
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
    static readonly HashSet<string> ValueOptions =
    [
        "--method", "--d-sae", "--batch", "--steps", "--tokens", "--lr", "--weight-decay", "--seed", "--threads",
        "--groups", "--htf", "--ltf", "--taf", "--k", "--gate", "--bias-init", "--buffer-tokens", "--init-tokens",
        "--normalize", "--eval-every", "--eval-tokens", "--features", "--dim", "--sparsity", "--profile", "--exponent",
        "--noise", "--magnitude-min", "--magnitude-max", "--out", "--kernels",
        "--data", "--dtype", "--tensor", "--row-limit", "--model-name", "--hook-name",
        "--l1", "--l1-warmup", "--l0-coefficient", "--ste-bandwidth", "--threshold-init", "--threshold-decay",
    ];
    static readonly HashSet<string> Flags = ["--json", "--untied", "--quiet", "--help", "-h", "--skip-nonfinite"];
    static readonly HashSet<string> Repeatable = ["--data"];

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
        // Paths after --data (a shell glob expands to several) are data files too.
        var dataPaths = o.Strings("--data").Concat(o.Positional).ToList();
        if (o.Positional.Count > 0 && o.Strings("--data").Count == 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        if (o.String("--kernels") is { } k) Kernels.KernelSelector.Force(Kernels.KernelSelector.Parse(k));

        var options = ReadTrainerOptions(o, demo: command == "demo");
        options.Validate();
        using var data = dataPaths.Count > 0 ? DataSource.Files(dataPaths, o, options.Seed) : DataSource.Synthetic(o, options.Seed);
        var (train, eval, describe) = (data.Train, data.Eval, data.Description);
        string? outDir = o.String("--out");
        bool json = o.Flag("--json");
        if (outDir != null) Directory.CreateDirectory(outDir);

        stderr.WriteLine($"gba {command}: {MethodName(options.Method).ToUpperInvariant()} M={options.Neurons} on {train.Describe()}; " +
                         $"{options.Steps} steps of {options.BatchSize} tokens, {options.Threads} threads, kernels {Kernels.KernelSelector.Current}");
        var trainer = new SaeTrainer(options, train.Dim);
        using var log = outDir is null ? null : new StreamWriter(Path.Combine(outDir, "metrics.jsonl"));
        var observers = new ObserverList(new ProgressDisplay(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error), o.Flag("--quiet")),
            log is null ? null : new JsonlLog(log));
        if (outDir != null) WriteConfig(Path.Combine(outDir, "config.json"), options, data.Config);

        var result = trainer.Train(train, eval, observers);
        PrintSummary(stdout, options, result);
        var summary = Summary(options, result);
        if (outDir != null)
        {
            File.WriteAllText(Path.Combine(outDir, "summary.json"), summary.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            Interop.SaeLensExport.Write(Path.Combine(outDir, "sae"), result.Model, options, result.Groups,
                new Dictionary<string, string?> { ["dataset"] = describe, ["model_name"] = o.String("--model-name"), ["hook_name"] = o.String("--hook-name") });
        }
        if (json) stdout.WriteLine(summary.ToJsonString());
        return CliApp.Ok;
    }

    static TrainerOptions ReadTrainerOptions(OptionReader o, bool demo)
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

    /// <summary>The method as --method spells it.</summary>
    internal static string MethodName(TrainingMethod method) => method == TrainingMethod.JumpReluL0 ? "jumprelu-l0" : method.ToString().ToLowerInvariant();

    static void WriteConfig(string path, TrainerOptions o, JsonNode dataConfig)
    {
        var cfg = new JsonObject
        {
            ["trainer"] = JsonSerializer.SerializeToNode(o, JsonOptions),
            ["data"] = dataConfig,
            ["kernels"] = Kernels.KernelSelector.Current.ToString().ToLowerInvariant(),
        };
        File.WriteAllText(path, cfg.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
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
            w.WriteLine(row.ToJsonString());
            w.Flush();
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
        Method:      --method gba|ba|topk|l1|batchtopk|jumprelu-l0   --d-sae M   --gate jumprelu|relu   --untied
                     GBA: --groups K --htf P --ltf P   BA: --taf P   both: --bias-init quantile|zero --buffer-tokens N
                     TopK: --k K (per token)   BatchTopK: --k K (mean per token; the batch keeps k*B) --threshold-decay X
                     L1: --l1 LAMBDA (penalty LAMBDA*sum |a_m|*||w_m||*h_m, decoder not renormalised) --l1-warmup FRACTION
                     JumpReLU-L0: --l0-coefficient LAMBDA --ste-bandwidth EPS --threshold-init THETA   --init-tokens N
        Budget:      --batch B   --steps S | --tokens N (suffix k/M/G)   --lr X   --weight-decay X   --seed S   --threads T
                     --normalize datasetscale|pertoken   --eval-every STEPS   --eval-tokens N   --kernels scalar|avx2|avx512
        Synthetic:   --features n   --dim d   --sparsity s   --profile uniform|powerlaw   --exponent A   --noise SIGMA
                     --magnitude-min X   --magnitude-max X
        Data files:  --data PATH... (.npy, .safetensors, raw; files, directories or globs; repeatable)   --dtype f32|f16|bf16 --dim d (raw)
                     --tensor NAME (safetensors)   --row-limit N   --skip-nonfinite   --eval-tokens N (held out: the last rows, at most 10%)
        Output:      --out DIR (config.json, metrics.jsonl, summary.json, sae/ in the SAELens layout)   --json (last stdout line: one JSON object)   --quiet
                     --model-name NAME --hook-name NAME (recorded in sae/cfg.json for SAELens / SAEBench, e.g. gpt2 blocks.6.hook_resid_post)

        """;
}
