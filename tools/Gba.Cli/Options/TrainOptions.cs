using System.Text.Json.Nodes;
using GbaEngine.Model;
using GbaEngine.Training;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The option schema of `gba train` and `gba demo`: one entry per option, from which the command's
/// parsing (value options, flags, lists), its help, what config and sweep files may set, what a
/// checkpoint saves and may see changed on resume, the trainer settings and config.json's "options"
/// are all derived. Adding a trainer option is one property on <see cref="TrainerOptions"/> (which
/// gives it its JSON, checkpoint and resume-compatibility contract) and one entry here. The options
/// other commands share (threads, kernel set, data files and the loader's flags, output switches) are
/// <see cref="SharedOptions"/>' entries, bound to the trainer here.
/// </summary>
public static class TrainOptions
{
    /// <summary>The embedded default problem of `gba demo` (docs/cli.md: "The demo"): the paper's statistical model at a size that
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
        new("untied", OptionKind.Flag, OptionScope.Run, "Method", "", "separate encoder and decoder matrices (the default of TopK and BatchTopK)")
        {
            Bind = (o, _, t) => o.Flag("--untied") && o.Flag("--tied") ? throw new UsageException("give --tied or --untied, not both")
                : o.Flag("--untied") ? t with { Tied = false } : o.Flag("--tied") ? t with { Tied = true } : t,
            Effective = t => !t.Tied,
        },
        // Bound with --untied; recorded so that a tied TopK run's config.json repeats it tied.
        new("tied", OptionKind.Flag, OptionScope.Run, "Method", "", "one matrix encodes and decodes (the default of every other method)")
        {
            Effective = t => t.Tied ? true : null,
        },
        Trainer("encoder-start", "Method", "decoder|linear", "untied: the encoder starts as the unit decoder rows, or as torch's nn.Linear draws it " +
            "(U(±1/sqrt(d)), the decoder its rows at unit norm); default linear for TopK/BatchTopK, decoder otherwise",
            (o, _, t) => t with { EncoderStart = o.Has("--encoder-start") ? o.Enum("--encoder-start", EncoderStart.Decoder) : Paper.EncoderStart },
            t => t.Tied ? null : t.ResolvedEncoderStart.ToString().ToLowerInvariant()),
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
        Trainer("dead-epsilon", "Method", "F", "GBA/BA: buffered firing frequency below which a neuron's bias is raised (default: fired on no token)",
            (o, _, t) => t with { DeadEpsilon = o.Double("--dead-epsilon", Paper.DeadEpsilon) }, t => t.DeadEpsilon),
        Trainer("gamma-plus", "Method", "G", "GBA/BA: γ₊, a dead neuron's bias rises by G times its group's mean peak",
            (o, _, t) => t with { GammaPlus = o.Double("--gamma-plus", Paper.GammaPlus) }, t => t.GammaPlus),
        Trainer("gamma-minus", "Method", "G", "GBA/BA: γ₋, a too-active neuron's bias falls by G times its own peak",
            (o, _, t) => t with { GammaMinus = o.Double("--gamma-minus", Paper.GammaMinus) }, t => t.GammaMinus),
        Trainer("buffer-tokens", "Method", "N", "GBA/BA: tokens between bias updates", (o, _, t) => t with { BufferTokens = o.Long("--buffer-tokens", Paper.BufferTokens) }, t => t.BufferTokens),
        Trainer("init-tokens", "Method", "N", "tokens read first for the input scale, b_pre and the bias start",
            (o, _, t) => t with { InitTokens = o.Int("--init-tokens", Paper.InitTokens) }, t => t.InitTokens),
        // Budget
        Trainer("batch", "Budget", "B", "tokens per step", (o, _, t) => t with { BatchSize = o.Int("--batch", Paper.BatchSize) }, t => t.BatchSize),
        Trainer("tokens", "Budget", "N", "token budget (suffix k/M/G); or --steps S", (o, _, t) =>
        {
            if (o.Has("--steps") && o.Has("--tokens")) throw new UsageException("give --steps or --tokens, not both");
            return o.Has("--steps") ? t with { Steps = o.Long("--steps", 0) } : t with { Tokens = o.Long("--tokens", Paper.Tokens) };
        }, t => t.Tokens),
        Run("steps", "Budget", "S", "step budget (instead of --tokens)"),
        Trainer("lr", "Budget", "X", "AdamW learning rate", (o, _, t) => t with { LearningRate = o.Double("--lr", Paper.LearningRate) }, t => t.LearningRate),
        Trainer("weight-decay", "Budget", "X", "AdamW weight decay", (o, _, t) => t with { WeightDecay = o.Double("--weight-decay", 0) }, t => t.WeightDecay),
        Trainer("seed", "Budget", "S", "seed of the initialisation (and of the data unless --data-seed)", (o, _, t) => t with { Seed = o.ULong("--seed", 1) }, t => t.Seed),
        SharedOptions.Threads with { Group = "Budget", Bind = (o, _, t) => t with { Threads = SharedOptions.ReadThreads(o) }, Effective = t => t.Threads },
        Trainer("normalize", "Budget", "pertoken|datasetscale", "input normalisation (pertoken: every token to unit norm)",
            (o, _, t) => t with { Normalization = o.Enum("--normalize", Paper.Normalization) }, t => t.Normalization.ToString().ToLowerInvariant()),
        Trainer("eval-every", "Budget", "STEPS", "evaluate every STEPS steps (0: only at the end)", (o, _, t) => t with { EvalEvery = o.Int("--eval-every", Paper.EvalEvery) }, t => t.EvalEvery),
        Trainer("eval-points", "Budget", "N", "also evaluate at N log-spaced steps (a learning curve in metrics.jsonl)",
            (o, _, t) => t with { EvalPoints = o.Int("--eval-points", Paper.EvalPoints) }, t => t.EvalPoints),
        Trainer("lr-warmup", "Budget", "FRACTION", "the learning rate rises linearly from 0 over this fraction of the steps",
            (o, _, t) => t with { LrWarmup = o.Double("--lr-warmup", Paper.LrWarmup) }, t => t.LrWarmup),
        Trainer("lr-schedule", "Budget", "constant|cosine|linear", "after the warm-up: constant, or a decay towards 0 from --lr-decay-start",
            (o, _, t) => t with { LrSchedule = o.Enum("--lr-schedule", Paper.LrSchedule) }, t => t.LrSchedule.ToString().ToLowerInvariant()),
        Trainer("lr-decay-start", "Budget", "FRACTION", "where the cosine or linear decay begins, as a fraction of the steps",
            (o, _, t) => t with { LrDecayStart = o.Double("--lr-decay-start", Paper.LrDecayStart) }, t => t.LrDecayStart),
        SharedOptions.Kernels with { Group = "Budget", Bind = (o, _, t) => t with { Kernels = SharedOptions.ReadKernels(o) } },
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
        Trainer("aux-k", "Method", "K", "TopK/BatchTopK: AuxK's dead latents per token (default d/2; 0: no AuxK)",
            (o, _, t) => t with { AuxK = o.Has("--aux-k") ? o.Int("--aux-k", 0) : Paper.AuxK },
            t => t.AuxK is { } k ? k : "d/2",   // `gba train` resolves d/2 once the data is open (TrainerOptions.WithResolvedAuxK)
            TrainingMethod.TopK, TrainingMethod.BatchTopK),
        Trainer("aux-k-coefficient", "Method", "ALPHA", "TopK/BatchTopK: weight of the AuxK loss",
            (o, _, t) => t with { AuxKCoefficient = o.Double("--aux-k-coefficient", Paper.AuxKCoefficient) }, t => t.AuxKCoefficient,
            TrainingMethod.TopK, TrainingMethod.BatchTopK),
        Trainer("dead-tokens", "Method", "N", "a latent not fired in the last N tokens is dead (default: AuxK min(10M, budget/10); resampling half its interval)",
            (o, _, t) => t with { DeadTokens = o.Has("--dead-tokens") ? o.Long("--dead-tokens", 0) : Paper.DeadTokens }, t => t.ResolvedDeadTokens,
            TrainingMethod.TopK, TrainingMethod.BatchTopK, TrainingMethod.L1, TrainingMethod.JumpReluL0),
        Trainer("resample-every", "Method", "STEPS", "L1/JumpReLU-L0: resample dead latents every STEPS steps (0: never)",
            (o, _, t) => t with { ResampleEvery = o.Int("--resample-every", Paper.ResampleEvery) }, t => t.ResampleEvery,
            TrainingMethod.L1, TrainingMethod.JumpReluL0),
        Trainer("mp-steps", "Method", "T", "MP: matching-pursuit steps", (o, _, t) => t with { MpSteps = o.Int("--mp-steps", 3) }, t => t.MpSteps, TrainingMethod.Mp),
        new("eval-mp-steps", OptionKind.Value, OptionScope.Saved, "Method", "T1,T2,...", "MP: also evaluate the trained dictionary at these step counts"),
        // Synthetic data
        .. SyntheticOptions.All,
        Run("data-seed", "Synthetic", "S", "seed of the synthetic problem or of the file shuffle (default --seed)"),
        // Data files
        SharedOptions.Data,
        SharedOptions.RawDType,
        SharedOptions.Tensor,
        SharedOptions.RowLimit,
        SharedOptions.SkipNonFinite,
        SharedOptions.BufferedReads,
        Run("eval-tokens", "Data files", "N", "held-out evaluation tokens (files: the last rows, at most 10%)"),
        SharedOptions.GroundTruth,
        Run("token-text", "Data files", "FILE.tsv", "token text per activation row: top-activating tokens in the report"),
        // Where the options come from
        new("config", OptionKind.Value, OptionScope.Source, "Config", "FILE",
            "JSON object of these options without the dashes, e.g. {\"d_sae\": 4096, \"data\": [\"a.npy\"]}; flags override it; a run's config.json repeats the run"),
        new("sweep", OptionKind.Value, OptionScope.Source, "Config", "FILE", "a gba sweep grid: run point --index into SWEEP_DIR/run-III"),
        new("index", OptionKind.Value, OptionScope.Source, "Config", "I", "the sweep point (default: SLURM_ARRAY_TASK_ID)"),
        // Output
        new("out", OptionKind.Value, OptionScope.RunControl, "Output", "DIR",
            "config.json, metrics.jsonl, loss.jsonl, neurons.json, summary.json, sae/ (SAELens layout), top_activations.json with --token-text; error.txt if the run failed"),
        SharedOptions.Json,
        SharedOptions.Quiet,
        new("dry-run", OptionKind.Flag, OptionScope.RunControl, "Output", "", "validate everything, print the plan and the memory estimate, train nothing"),
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
        OptionSchema.HelpOption,
    ];

    /// <summary>`gba train`'s schema (parsing and help).</summary>
    public static readonly OptionSchema Schema = new("train", "train an SAE on activation files (--data) or on synthetic data from the paper's model", All)
    {
        Usage = ["[--data PATH...] [options]", "--config FILE | --sweep FILE --index I | --resume DIR [options]"],
    };

    /// <summary>`gba demo`'s: the same options, the demo's defaults.</summary>
    public static readonly OptionSchema DemoSchema = Schema with
    {
        Command = "demo",
        Summary = "train GBA on the embedded synthetic default and print the metrics",
        Usage = ["[options]"],
        Notes = $"""
            Default: synthetic data from the paper's model with n={DemoDefaults.Features} unit Gaussian features in
            d={DemoDefaults.Dim}, s={DemoDefaults.Sparsity} active per token (f = s/n), magnitudes U(0.5, 1.5), trained with the same
            defaults as 'gba train': a tied JumpReLU SAE with M={Paper.Neurons} neurons, GBA with K={Paper.Groups} groups and TAFs
            {Paper.Htf} -> {Paper.Ltf} (the paper's setting, not told s), AdamW lr {Paper.LearningRate}, batch {Paper.BatchSize},
            {Paper.Tokens:N0} tokens. Every 'gba train' option overrides it.
            """,
    };

    /// <summary>Options followed by a value (lists included).</summary>
    public static IReadOnlySet<string> ValueOptions => Schema.ValueOptions;
    /// <summary>What config files and sweep points may set: everything that shapes the run, nothing about where output goes.</summary>
    public static readonly IReadOnlySet<string> Configurable = All.Where(s => s.Scope.HasFlag(OptionScope.Config)).Select(s => s.Flag).ToHashSet();
    /// <summary>Options that steer one invocation: never saved in a checkpoint, free to differ on resume.</summary>
    public static readonly IReadOnlySet<string> RunControl = All.Where(s => s.Scope == OptionScope.RunControl).Select(s => s.Flag).Append("-h").ToHashSet();
    /// <summary>Options that pick where the others come from: expanded into the reader, not part of the saved command line.</summary>
    public static readonly IReadOnlySet<string> Sources = All.Where(s => s.Scope == OptionScope.Source).Select(s => s.Flag).ToHashSet();

    /// <summary>A reader of these options over <paramref name="args"/>.</summary>
    public static OptionReader Reader(IReadOnlyList<string> args) => Schema.Read(args);

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
            if (s.Effective is { } value && s.AppliesTo(t.Method) && value(t) is { } v) o[s.Key] = v;     // null: not this run's
        foreach (var (k, v) in dataOptions) o[k] = v?.DeepClone();
        return o;
    }

    /// <summary>The method as --method spells it.</summary>
    public static string MethodName(TrainingMethod method) => method == TrainingMethod.JumpReluL0 ? "jumprelu-l0" : method.ToString().ToLowerInvariant();

    /// <summary>The entry of "--name".</summary>
    public static OptionSpec Spec(string flag) => Schema.Spec(flag);
}
