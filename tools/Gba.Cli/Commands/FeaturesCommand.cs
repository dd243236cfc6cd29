using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Cli.Options;
using GbaEngine.Cli.Runs;
using GbaEngine.Uses;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba features --sae DIR --data PATH... [--token-text TSV] --out DIR`: the whole corpus once through the SAE,
/// in memory bounded by the dictionary (<see cref="FeatureTableBuilder"/>), then the token text once for the
/// examples' contexts; the table is written by <see cref="FeatureTableFiles"/>.
/// </summary>
public static class FeaturesCommand
{
    const string Table = "Table";

    static readonly OptionSpec TokenText = OptionSpec.Valued("token-text", SharedOptions.DataFiles, "FILE.tsv",
        "token text per row (columns sentence and piece, one line per row): contexts of the examples");
    static readonly OptionSpec Out = OptionSpec.Valued("out", Table, "DIR",
        "DIR/features.json (every feature's statistics, the log10-frequency histogram) and DIR/features/NNNNN.json;\n" +
        "built beside DIR and renamed into place (--out RUN/features: gba report RUN links to it)");
    static readonly OptionSpec TopK = OptionSpec.Valued("top-k", Table, "K", "strongest activations kept per feature (default 20)") with { Min = 1 };
    static readonly OptionSpec Quantiles = OptionSpec.Valued("quantiles", Table, "Q", "examples at quantiles (j + 0.5)/Q of each feature's activations (default 10)") with { Min = 0 };
    static readonly OptionSpec Reservoir = OptionSpec.Valued("reservoir", Table, "R", "uniform sample per feature the quantiles come from (default 256; exact below R firings)") with { Min = 1 };
    static readonly OptionSpec Window = OptionSpec.Valued("window", Table, "W", "context tokens each side of the firing token, within its sentence (default 8)") with { Min = 0 };
    static readonly OptionSpec Seed = OptionSpec.Valued("seed", Table, "S", "seed of the reservoir sample (default 0)");

    /// <summary>--batch, shared with `gba select`.</summary>
    internal static readonly OptionSpec Batch = OptionSpec.Valued("batch", "Run", "N", "rows per encoder call (default 4096)") with { Min = 1 };

    /// <summary>The activation-file options of the corpus commands: no --row-limit or --skip-nonfinite, since rows align with the token text.</summary>
    internal static readonly OptionSpec[] Files = [SharedOptions.Data, SharedOptions.RawDType, SharedOptions.Dim, SharedOptions.Tensor];

    /// <summary>`gba features`' options.</summary>
    public static readonly OptionSchema Schema = new("features",
        "a corpus feature table: frequency, max, top and quantile examples in context, per feature (JSON)",
        [
            SharedOptions.Sae, .. Files, TokenText, Out, TopK, Quantiles, Reservoir, Window, Seed,
            Batch, SharedOptions.Threads, SharedOptions.Kernels, SharedOptions.Json, SharedOptions.Quiet,
        ])
    {
        Usage = ["--sae DIR --data PATH... [--token-text FILE.tsv] --out DIR [options]"],
        Notes = "Every row is encoded once, shards in order (row i is line i of the token text); memory is bounded by\n" +
                "d_sae x (top-k + reservoir) examples, not by the corpus. Schema: docs/feature-tables.md.",
    };

    /// <summary>Runs `gba features` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        var paths = SharedOptions.DataPaths(o);
        string saePath = o.Required(SharedOptions.Sae.Flag);
        if (paths.Count == 0) throw new UsageException("--data PATH is required (the corpus' activation files)");
        string outDir = o.Required(Out.Flag);
        string? textPath = o.String(TokenText.Flag);
        var options = new FeatureTableOptions
        {
            TopK = o.Int(TopK.Flag, 20),
            Quantiles = o.Int(Quantiles.Flag, 10),
            ReservoirSize = o.Int(Reservoir.Flag, 256),
            Seed = o.ULong(Seed.Flag, 0),
        };
        if (options.ReservoirSize < options.Quantiles) throw new UsageException($"--reservoir {options.ReservoirSize}: must be at least --quantiles {options.Quantiles}");
        int window = o.Int(Window.Flag, 8);
        var kernels = SharedOptions.ReadKernels(o);
        int threads = SharedOptions.ReadThreads(o), batch = o.Int(Batch.Flag, CorpusScan.DefaultBatch);

        using var encoder = CorpusEncoder.Open(saePath, threads, kernels);
        using var dataset = ActivationDataset.Open(paths, SharedOptions.ReadFormat(o) with { EvalRows = long.MaxValue });
        if (dataset.Dim != encoder.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE in {saePath} expects d_in = {encoder.Dim}.");
        long rows = dataset.UsedRows;
        bool quiet = o.Flag(SharedOptions.Quiet.Flag);

        var clock = Stopwatch.StartNew();
        var progress = WorkProgress.For(stderr, quiet, "tokens", rows);
        FeatureTable table;
        using (var stream = dataset.OpenEvalStream())
            table = CorpusScan.Features(encoder, stream, rows, options, batch, progress.Report);
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        if (textPath != null)
        {
            if (!quiet) stderr.WriteLine($"gba features: reading the contexts from {textPath}");
            long textRows = table.AttachContexts(textPath, window);
            if (textRows != dataset.TokenCount)
                throw new InvalidDataException($"{textPath}: {textRows} token rows, but the activations have {dataset.TokenCount} rows (they must align row by row).");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        var ci = CultureInfo.InvariantCulture;
        FeatureTableFiles.Write(outDir, table, new JsonObject
        {
            ["producer"] = "gba features (GbaEngine)",
            ["sae"] = encoder.Source ?? Path.GetFullPath(saePath),
            ["activation"] = encoder.Activation,
            ["d_in"] = encoder.Dim,
            ["data"] = new JsonArray(dataset.Shards.Select(s => (JsonNode)Path.GetFullPath(s.Path)).ToArray()),
            ["token_text"] = textPath is null ? null : Path.GetFullPath(textPath),
            ["window"] = window,
            ["seconds"] = Math.Round(seconds, 3),
            ["tokens_per_second"] = Math.Round(rows / Math.Max(encodeSeconds, 1e-9), 1),
            ["threads"] = threads,
        });
        stdout.WriteLine(string.Create(ci, $"wrote {Path.Combine(outDir, FeatureTableFiles.IndexFile)}: {table.Features.Count} features over {rows:N0} tokens, {table.Dead} dead, in {seconds:F1} s ({rows / Math.Max(encodeSeconds, 1e-9):N0} tokens/s encoding and tabulating)"));
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = Path.GetFullPath(outDir), ["tokens"] = rows, ["d_sae"] = table.Features.Count, ["dead"] = table.Dead,
                ["seconds"] = Math.Round(seconds, 3), ["tokens_per_second"] = Math.Round(rows / Math.Max(encodeSeconds, 1e-9), 1),
            }.ToResultJson());
        return CliApp.Ok;
    }
}
