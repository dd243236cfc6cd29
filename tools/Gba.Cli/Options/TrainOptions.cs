using System.Text.Json.Nodes;
using GbaEngine.Model;
using GbaEngine.Training;

namespace GbaEngine.Cli.Options;

/// <summary>How an option is written on the command line.</summary>
public enum OptionKind
{
    /// <summary>--name VALUE, at most once.</summary>
    Value,
    /// <summary>--name, no value.</summary>
    Flag,
    /// <summary>--name VALUE, repeatable (a config file gives a list).</summary>
    List,
}

/// <summary>Where an option may come from and what happens to it on resume.</summary>
[Flags]
public enum OptionScope
{
    /// <summary>Steers this invocation only (--out, --json, --resume): never saved, free to differ on resume.</summary>
    RunControl = 0,
    /// <summary>Part of the run: kept in a checkpoint's command line, so `--resume DIR` alone rebuilds it.</summary>
    Saved = 1,
    /// <summary>A config file or a sweep point may set it (config files hold the run, not where its output goes).</summary>
    Config = 2,
    /// <summary>Picks where the other options come from (--config, --sweep, --index): expanded, then dropped.</summary>
    Source = 4,
    /// <summary>Saved and settable by a config file: every option that shapes a run.</summary>
    Run = Saved | Config,
}

/// <summary>
/// One option of `gba train` / `gba demo`. Trainer settings carry how they bind to
/// <see cref="TrainerOptions"/> (<see cref="Bind"/>) and how they appear in config.json's "options"
/// (<see cref="Effective"/>, for the methods in <see cref="AppliesTo"/>).
/// </summary>
public sealed record OptionSpec(string Name, OptionKind Kind, OptionScope Scope, string Group, string Value, string Help)
{
    /// <summary>"--name".</summary>
    public string Flag => "--" + Name;

    /// <summary>The key in config files, config.json and sweep files ("d_sae" for --d-sae).</summary>
    public string Key => Name.Replace('-', '_');

    /// <summary>Reads the option into the trainer settings (demo: the demo's defaults apply).</summary>
    public Func<OptionReader, bool, TrainerOptions, TrainerOptions>? Bind { get; init; }

    /// <summary>The resolved value recorded in config.json (defaults included, so a changed default does not change a repeat).</summary>
    public Func<TrainerOptions, JsonNode?>? Effective { get; init; }

    /// <summary>Methods whose config.json records this setting (other methods ignore it).</summary>
    public Func<TrainingMethod, bool> AppliesTo { get; init; } = _ => true;
}

/// <summary>
/// The option schema of `gba train` and `gba demo`: one entry per option, from which the command's
/// parsing (value options, flags, lists), its help, what config and sweep files may set, what a
/// checkpoint saves and may see changed on resume, the trainer settings and config.json's "options"
/// are all derived. Adding a trainer option is one property on <see cref="TrainerOptions"/> (which
/// gives it its JSON, checkpoint and resume-compatibility contract) and one entry here.
/// </summary>
public static class TrainOptions
{
    /// <summary>The embedded default problem of `gba demo` (README: "The demo"): the paper's statistical model at a size that
    /// trains in seconds. The demo trains it with the same defaults as `train` (K = 10 groups, TAFs 0.1 → 0.001): it shows
    /// that GBA recovers the features without being told how sparse they are.</summary>
    public static class DemoDefaults
    {
        public const int Features = 512, Dim = 64, Sparsity = 3;
    }

    static readonly TrainerOptions Paper = new();

    static OptionSpec Trainer(string name, string group, string value, string help, Func<OptionReader, bool, TrainerOptions, TrainerOptions> bind,
        Func<TrainerOptions, JsonNode?> effective, params TrainingMethod[] methods) =>
        new(name, OptionKind.Value, OptionScope.Run, group, value, help)
        {
            Bind = bind, Effective = effective, AppliesTo = methods.Length == 0 ? _ => true : m => methods.Contains(m),
        };

    static OptionSpec Run(string name, string group, string value, string help, OptionKind kind = OptionKind.Value) =>
        new(name, kind, OptionScope.Run, group, value, help);

    /// <summary>Every option, in the order config.json records the trainer's (then the data's) and help lists them.</summary>
    public static readonly IReadOnlyList<OptionSpec> All =
    [
        // Method
        Trainer("method", "Method", "gba|ba|topk|l1|batchtopk|jumprelu-l0|mp", "the training method",
            (o, _, t) => t with { Method = o.Enum("--method", TrainingMethod.Gba) }, t => MethodName(t.Method)),
        Trainer("d-sae", "Method", "M", "dictionary size (neurons)", (o, _, t) => t with { Neurons = o.Int("--d-sae", Paper.Neurons) }, t => t.Neurons),
        new("untied", OptionKind.Flag, OptionScope.Run, "Method", "", "separate encoder and decoder matrices")
        {
            Bind = (o, _, t) => t with { Tied = !o.Flag("--untied") }, Effective = t => !t.Tied,
        },
        Trainer("gate", "Method", "jumprelu|relu", "the threshold gate", (o, _, t) => t with { Gate = o.Enum("--gate", SaeActivation.JumpRelu) },
            t => t.Gate.ToString().ToLowerInvariant()),
        Trainer("k", "Method", "K", "TopK: per token; BatchTopK: mean per token (the batch keeps k*B)", (o, _, t) => t with { K = o.Int("--k", 3) }, t => t.K),
        Trainer("groups", "Method", "K", "GBA: number of groups", (o, _, t) => t with { Groups = o.Int("--groups", Paper.Groups) }, t => t.Groups),
        Trainer("htf", "Method", "P", "GBA: highest target frequency", (o, _, t) => t with { Htf = o.Double("--htf", Paper.Htf) }, t => t.Htf),
        Trainer("ltf", "Method", "P", "GBA: lowest target frequency", (o, _, t) => t with { Ltf = o.Double("--ltf", Paper.Ltf) }, t => t.Ltf),
        Trainer("taf", "Method", "P", "BA: the one target frequency", (o, _, t) => t with { Taf = o.Double("--taf", Paper.Taf) }, t => t.Taf),
        Trainer("bias-init", "Method", "edge|quantile|zero", "GBA/BA: how the biases start (edge: each neuron at its largest init pre-activation)",
            (o, _, t) => t with { BiasInit = o.Enum("--bias-init", Paper.BiasInit) }, t => t.BiasInit.ToString().ToLowerInvariant()),
        Trainer("bias-rule", "Method", "paper|edge", "GBA/BA: dead neurons raised by the paper's step, or lifted to their edge first",
            (o, _, t) => t with { BiasRule = o.Enum("--bias-rule", Paper.BiasRule) }, t => t.BiasRule.ToString().ToLowerInvariant()),
        Trainer("pre-bias", "Method", "trained|frozen|none", "centring bias b_pre: trained by AdamW, fixed at the data mean, or absent",
            (o, _, t) => t with { PreBias = o.Enum("--pre-bias", Paper.PreBias) }, t => t.PreBias.ToString().ToLowerInvariant()),
        Trainer("buffer-tokens", "Method", "N", "GBA/BA: tokens between bias updates", (o, _, t) => t with { BufferTokens = o.Long("--buffer-tokens", Paper.BufferTokens) }, t => t.BufferTokens),
        Trainer("init-tokens", "Method", "N", "tokens read first for the input scale, b_pre and the bias start",
            (o, _, t) => t with { InitTokens = o.Int("--init-tokens", Paper.InitTokens) }, t => t.InitTokens),
        // Budget
        Trainer("batch", "Budget", "B", "tokens per step", (o, _, t) => t with { BatchSize = o.Int("--batch", Paper.BatchSize) }, t => t.BatchSize),
        Trainer("tokens", "Budget", "N", "token budget (suffix k/M/G); or --steps S", (o, _, t) =>
        {
            if (o.Has("--steps") && o.Has("--tokens")) throw new UsageException("give --steps or --tokens, not both");
            return t with { Tokens = o.Has("--steps") ? o.Long("--steps", 0) * t.BatchSize : o.Long("--tokens", Paper.Tokens) };
        }, t => t.Tokens),
        Run("steps", "Budget", "S", "step budget (instead of --tokens)"),
        Trainer("lr", "Budget", "X", "AdamW learning rate", (o, _, t) => t with { LearningRate = o.Double("--lr", Paper.LearningRate) }, t => t.LearningRate),
        Trainer("weight-decay", "Budget", "X", "AdamW weight decay", (o, _, t) => t with { WeightDecay = o.Double("--weight-decay", 0) }, t => t.WeightDecay),
        Trainer("seed", "Budget", "S", "seed of the initialisation (and of the data unless --data-seed)", (o, _, t) => t with { Seed = o.ULong("--seed", 1) }, t => t.Seed),
        Trainer("threads", "Budget", "T", "worker threads (default: all cores)", (o, _, t) => t with { Threads = o.Int("--threads", Environment.ProcessorCount) }, t => t.Threads),
        Trainer("normalize", "Budget", "pertoken|datasetscale", "input normalisation (pertoken: every token to unit norm)",
            (o, _, t) => t with { Normalization = o.Enum("--normalize", Paper.Normalization) }, t => t.Normalization.ToString().ToLowerInvariant()),
        Trainer("eval-every", "Budget", "STEPS", "evaluate every STEPS steps (0: only at the end)", (o, _, t) => t with { EvalEvery = o.Int("--eval-every", Paper.EvalEvery) }, t => t.EvalEvery),
        Trainer("eval-points", "Budget", "N", "also evaluate at N log-spaced steps (a learning curve in metrics.jsonl)",
            (o, _, t) => t with { EvalPoints = o.Int("--eval-points", Paper.EvalPoints) }, t => t.EvalPoints),
        new("kernels", OptionKind.Value, OptionScope.Run, "Budget", "scalar|avx2|avx512", "kernel set (default: GBA_KERNELS, else the best this CPU has)")
        {
            Bind = (o, _, t) => t with { Kernels = o.String("--kernels") is { } k ? Kernels.KernelSelector.Parse(k) : null },
        },
        // Each baseline's own settings (other methods ignore them, so their config.json leaves them out).
        Trainer("l1", "Method", "LAMBDA", "L1: penalty LAMBDA*sum |a_m|*||w_m||*h_m (decoder not renormalised)",
            (o, _, t) => t with { L1Coefficient = o.Double("--l1", Paper.L1Coefficient) }, t => t.L1Coefficient, TrainingMethod.L1),
        Trainer("l1-warmup", "Method", "FRACTION", "L1: the penalty rises over this fraction of the steps",
            (o, _, t) => t with { L1Warmup = o.Double("--l1-warmup", Paper.L1Warmup) }, t => t.L1Warmup, TrainingMethod.L1),
        Trainer("threshold-decay", "Method", "X", "BatchTopK: decay of the inference threshold's running estimate",
            (o, _, t) => t with { ThresholdDecay = o.Double("--threshold-decay", Paper.ThresholdDecay) }, t => t.ThresholdDecay, TrainingMethod.BatchTopK),
        Trainer("l0-coefficient", "Method", "LAMBDA", "JumpReLU-L0: weight of the L0 penalty",
            (o, _, t) => t with { L0Coefficient = o.Double("--l0-coefficient", Paper.L0Coefficient) }, t => t.L0Coefficient, TrainingMethod.JumpReluL0),
        Trainer("ste-bandwidth", "Method", "EPS", "JumpReLU-L0: width of the straight-through estimator's window",
            (o, _, t) => t with { SteBandwidth = o.Double("--ste-bandwidth", Paper.SteBandwidth) }, t => t.SteBandwidth, TrainingMethod.JumpReluL0),
        Trainer("threshold-init", "Method", "THETA", "JumpReLU-L0: the threshold's start",
            (o, _, t) => t with { InitialThreshold = o.Double("--threshold-init", Paper.InitialThreshold) }, t => t.InitialThreshold, TrainingMethod.JumpReluL0),
        Trainer("mp-steps", "Method", "T", "MP: matching-pursuit steps", (o, _, t) => t with { MpSteps = o.Int("--mp-steps", 3) }, t => t.MpSteps, TrainingMethod.Mp),
        new("eval-mp-steps", OptionKind.Value, OptionScope.Saved, "Method", "T1,T2,...", "MP: also evaluate the trained dictionary at these step counts"),
        // Synthetic data
        Run("features", "Synthetic", "n", "true features"),
        Run("dim", "Synthetic", "d", "row width (also of raw files, with --dtype)"),
        Run("sparsity", "Synthetic", "s", "active features per token"),
        Run("profile", "Synthetic", "uniform|powerlaw", "feature frequency profile"),
        Run("exponent", "Synthetic", "A", "power-law exponent"),
        Run("noise", "Synthetic", "SIGMA", "Gaussian noise per element"),
        Run("magnitude-min", "Synthetic", "X", "smallest feature magnitude"),
        Run("magnitude-max", "Synthetic", "X", "largest feature magnitude"),
        Run("mix-sparsity", "Synthetic", "S2", "a second sparsity for a fraction of the tokens"),
        Run("mix-fraction", "Synthetic", "F", "that fraction"),
        Run("data-seed", "Synthetic", "S", "seed of the synthetic problem or of the file shuffle (default --seed)"),
        // Data files
        Run("data", "Data files", "PATH", ".npy, .safetensors, raw; files, directories or globs (repeatable)", OptionKind.List),
        Run("dtype", "Data files", "f32|f16|bf16", "element type of raw files (with --dim)"),
        Run("tensor", "Data files", "NAME", "safetensors tensor"),
        Run("row-limit", "Data files", "N", "use at most N rows"),
        Run("skip-nonfinite", "Data files", "", "skip rows with NaN/Inf (default: an error)", OptionKind.Flag),
        Run("eval-tokens", "Data files", "N", "held-out evaluation tokens (files: the last rows, at most 10%)"),
        Run("ground-truth", "Data files", "FILE.npy", "true features [n x d]: FRR and per-feature best cosines, recovery.json"),
        Run("token-text", "Data files", "FILE.tsv", "token text per activation row: top-activating tokens in the report"),
        // Where the options come from
        new("config", OptionKind.Value, OptionScope.Source, "Config", "FILE",
            "JSON object of these options without the dashes, e.g. {\"d_sae\": 4096, \"data\": [\"a.npy\"]}; flags override it; a run's config.json repeats the run"),
        new("sweep", OptionKind.Value, OptionScope.Source, "Config", "FILE", "a gba sweep grid: run point --index into SWEEP_DIR/run-III"),
        new("index", OptionKind.Value, OptionScope.Source, "Config", "I", "the sweep point (default: SLURM_ARRAY_TASK_ID)"),
        // Output
        new("out", OptionKind.Value, OptionScope.RunControl, "Output", "DIR",
            "config.json, metrics.jsonl, loss.jsonl, neurons.json, summary.json, sae/ (SAELens layout), top_activations.json with --token-text; error.txt if the run failed"),
        new("json", OptionKind.Flag, OptionScope.RunControl, "Output", "", "last stdout line: one JSON object"),
        new("quiet", OptionKind.Flag, OptionScope.RunControl, "Output", "", "no progress on stderr"),
        Run("format", "Output", "saelens|sparsify", "layout of DIR/sae: SAELens 6 (default) or sparsify's DIR/sae/HOOK/ (TopK with a dataset scale only)"),
        Run("model-name", "Output", "NAME", "recorded in sae/cfg.json for SAELens / SAEBench (e.g. gpt2); default: harvest.json beside --data"),
        Run("hook-name", "Output", "NAME", "recorded there too (e.g. blocks.6.hook_resid_post; SAEBench reads the layer from it)"),
        Run("context-size", "Output", "N", "tokens per sequence the activations came from (metadata context_size)"),
        Run("dataset-path", "Output", "PATH", "the text data set they came from (metadata dataset_path)"),
        Run("prepend-bos", "Output", "true|false", "whether sequences started with BOS (metadata prepend_bos)"),
        // Checkpoints
        Run("checkpoint-every", "Checkpoints", "STEPS", "into DIR/checkpoints/ (default 1000; 0: only at the end and on Ctrl-C/SIGTERM)"),
        Run("keep-checkpoints", "Checkpoints", "K", "newest checkpoints kept (default 3)"),
        new("resume", OptionKind.Value, OptionScope.RunControl, "Checkpoints", "DIR",
            "continue the run in DIR exactly; saved options apply, --steps/--tokens may grow it; Ctrl-C stops after the current step with a checkpoint, twice at once"),
        new("help", OptionKind.Flag, OptionScope.RunControl, "", "", "this text"),
    ];

    static readonly Dictionary<string, OptionSpec> ByFlag = All.ToDictionary(s => s.Flag);

    /// <summary>Options followed by a value (lists included).</summary>
    public static readonly IReadOnlySet<string> ValueOptions = All.Where(s => s.Kind != OptionKind.Flag).Select(s => s.Flag).ToHashSet();
    /// <summary>Options without a value ("-h" is --help's short form).</summary>
    public static readonly IReadOnlySet<string> Flags = All.Where(s => s.Kind == OptionKind.Flag).Select(s => s.Flag).Append("-h").ToHashSet();
    /// <summary>Options that may be given more than once.</summary>
    public static readonly IReadOnlySet<string> Repeatable = All.Where(s => s.Kind == OptionKind.List).Select(s => s.Flag).ToHashSet();
    /// <summary>What config files and sweep points may set: everything that shapes the run, nothing about where output goes.</summary>
    public static readonly IReadOnlySet<string> Configurable = All.Where(s => s.Scope.HasFlag(OptionScope.Config)).Select(s => s.Flag).ToHashSet();
    /// <summary>Options that steer one invocation: never saved in a checkpoint, free to differ on resume.</summary>
    public static readonly IReadOnlySet<string> RunControl = All.Where(s => s.Scope == OptionScope.RunControl).Select(s => s.Flag).Append("-h").ToHashSet();
    /// <summary>Options that pick where the others come from: expanded into the reader, not part of the saved command line.</summary>
    public static readonly IReadOnlySet<string> Sources = All.Where(s => s.Scope == OptionScope.Source).Select(s => s.Flag).ToHashSet();

    /// <summary>A reader of these options over <paramref name="args"/>.</summary>
    public static OptionReader Reader(IReadOnlyList<string> args) => new(args, ValueOptions, Flags, Repeatable);

    /// <summary>The trainer settings the options give (train and demo share the defaults; the demo differs only in its data).</summary>
    public static TrainerOptions Trainer(OptionReader o, bool demo)
    {
        var t = new TrainerOptions();
        foreach (var s in All)
            if (s.Bind is { } bind) t = bind(o, demo, t);
        return t;
    }

    /// <summary>
    /// Every option that determines a run, resolved (defaults included, so a later change of a default
    /// does not change a repeat): the trainer's settings plus the data source's.
    /// </summary>
    public static JsonObject Effective(TrainerOptions t, JsonObject dataOptions)
    {
        var o = new JsonObject();
        foreach (var s in All)
            if (s.Effective is { } value && s.AppliesTo(t.Method)) o[s.Key] = value(t);
        foreach (var (k, v) in dataOptions) o[k] = v?.DeepClone();
        return o;
    }

    /// <summary>The method as --method spells it.</summary>
    public static string MethodName(TrainingMethod method) => method == TrainingMethod.JumpReluL0 ? "jumprelu-l0" : method.ToString().ToLowerInvariant();

    /// <summary>The options section of the help text, one line per option under its group.</summary>
    public static string Help()
    {
        var w = new System.Text.StringBuilder();
        foreach (var group in All.Where(s => s.Group.Length > 0).GroupBy(s => s.Group))
        {
            w.Append(group.Key).Append(":\n");
            foreach (var s in group)
            {
                var usage = s.Kind == OptionKind.Flag ? s.Flag : $"{s.Flag} {s.Value}";
                w.Append("  ").Append(usage.PadRight(44)).Append(' ').Append(s.Help).Append('\n');
            }
        }
        return w.ToString();
    }

    /// <summary>The entry of "--name".</summary>
    public static OptionSpec Spec(string flag) => ByFlag[flag];
}
