namespace GbaEngine.Cli.Options;

/// <summary>
/// The options of one command, declared once (<see cref="OptionSpec"/> entries, as <see cref="TrainOptions"/>
/// declares train's): the reader's value options, flags and lists and the help's option lines derive from them.
/// </summary>
public sealed class CommandOptions(IReadOnlyList<OptionSpec> all)
{
    /// <summary>Every option, in help order.</summary>
    public IReadOnlyList<OptionSpec> All { get; } = all;

    /// <summary>A reader of these options over <paramref name="args"/> ("-h" is --help's short form).</summary>
    public OptionReader Reader(IReadOnlyList<string> args) => new(args,
        All.Where(s => s.Kind != OptionKind.Flag).Select(s => s.Flag).ToHashSet(),
        All.Where(s => s.Kind == OptionKind.Flag).Select(s => s.Flag).Append("-h").ToHashSet(),
        All.Where(s => s.Kind == OptionKind.List).Select(s => s.Flag).ToHashSet());

    /// <summary>The options section of the help text, one line per option under its group.</summary>
    public string Help()
    {
        var w = new System.Text.StringBuilder();
        foreach (var group in All.Where(s => s.Group.Length > 0).GroupBy(s => s.Group))
        {
            w.Append(group.Key).Append(":\n");
            foreach (var s in group)
            {
                var usage = s.Kind == OptionKind.Flag ? s.Flag : $"{s.Flag} {s.Value}";
                w.Append("  ").Append(usage.PadRight(36)).Append(' ').Append(s.Help).Append('\n');
            }
        }
        return w.ToString();
    }
}

/// <summary>The option schema of the commands that use a trained SAE on a corpus: `gba features` and `gba select`.</summary>
public static class UseOptions
{
    static OptionSpec V(string name, string group, string value, string help, OptionKind kind = OptionKind.Value) =>
        new(name, kind, OptionScope.RunControl, group, value, help);

    static readonly OptionSpec[] Loader =
    [
        V("dtype", "Data files", "f32|f16|bf16", "element type of raw files (with --dim)"),
        V("dim", "Data files", "d", "row width of raw files"),
        V("tensor", "Data files", "NAME", "safetensors tensor"),
    ];

    static readonly OptionSpec[] Run =
    [
        V("batch", "Run", "N", "rows per encoder call (default 4096)"),
        V("threads", "Run", "T", "encoder threads (default: all cores); results do not depend on it"),
        V("kernels", "Run", "scalar|avx2|avx512", "kernel set (default: GBA_KERNELS, else the best this CPU has)"),
        V("json", "Run", "", "last stdout line: one JSON object", OptionKind.Flag),
        V("quiet", "Run", "", "no progress on stderr", OptionKind.Flag),
        V("help", "", "", "this text", OptionKind.Flag),
    ];

    /// <summary>`gba features`.</summary>
    public static readonly CommandOptions Features = new(
    [
        V("sae", "Input", "DIR", "an SAE directory (this engine's export or run directory, SAELens, sparsify; MP runs its pursuit)"),
        V("data", "Input", "PATH", "the corpus: activation files, directories or globs, in order (repeatable)", OptionKind.List),
        V("token-text", "Input", "FILE.tsv", "token text per row (columns sentence, piece): contexts of the examples"),
        V("out", "Output", "DIR", "DIR/features.json (index: every feature's statistics, the frequency histogram) and DIR/features/NNNNN.json"),
        V("top-k", "Output", "K", "strongest activations kept per feature (default 20)"),
        V("quantiles", "Output", "Q", "examples at quantiles (j + 0.5)/Q of each feature's activations (default 10)"),
        V("reservoir", "Output", "R", "uniform sample per feature the quantiles come from (default 256; exact below R firings)"),
        V("window", "Output", "W", "context tokens each side of the firing token, within its sentence (default 8)"),
        V("seed", "Output", "S", "seed of the reservoir sample (default 0)"),
        .. Loader, .. Run,
    ]);

    /// <summary>`gba select`.</summary>
    public static readonly CommandOptions Select = new(
    [
        V("sae", "Input", "DIR", "an SAE directory (as gba features)"),
        V("data", "Input", "PATH", "the corpus' activation files, in order (repeatable)", OptionKind.List),
        V("token-text", "Input", "FILE.tsv", "the corpus' token text: a sample is one sentence"),
        V("target", "Input", "PATH", "the target examples' activation files (repeatable)", OptionKind.List),
        V("target-text", "Input", "FILE.tsv", "their token text (one target per sentence)"),
        V("top", "Selection", "K", "select the K best samples"),
        V("ratio", "Selection", "R", "or the best ceil(R x samples), 0 < R <= 1"),
        V("pool", "Selection", "max|sum|mean", "a sample's code per feature over its tokens (default max)"),
        V("similarity", "Selection", "jaccard|cosine", "weighted Jaccard sum min / sum max (default) or cosine"),
        V("aggregate", "Selection", "max|centroid", "score = best similarity to any target (default) or to the targets' mean code"),
        V("weights", "Selection", "none|idf", "feature weights: 1 (default) or ln((1 + N) / (1 + df)) + 1 over the corpus samples"),
        V("out", "Output", "FILE.jsonl", "one line per selected sample: rank, sample, score, first_row, tokens, text"),
        .. Loader, .. Run,
    ]);
}
