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
    static string Help => $"""
        gba features: a corpus feature table of a trained SAE (frequency, max, top and quantile examples in context)

        Usage: gba features --sae DIR --data PATH... [--token-text FILE.tsv] --out DIR [options]

        {UseOptions.Features.Help()}
        Every row of the data is encoded once, shards in order (row i is line i of the token text); memory is bounded by
        d_sae x (top-k + reservoir) examples, not by the corpus. Schema: docs/feature-tables.md.

        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = UseOptions.Features.Reader(args);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        if (o.Positional.Count > 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        string saePath = o.String("--sae") ?? throw new UsageException("--sae DIR is required (an SAE directory: this engine's export, SAELens or sparsify)");
        var paths = o.Strings("--data");
        if (paths.Count == 0) throw new UsageException("--data PATH is required (the corpus' activation files)");
        string outDir = o.String("--out") ?? throw new UsageException("--out DIR is required (where the feature table goes)");
        string? textPath = o.String("--token-text");
        var options = new FeatureTableOptions
        {
            TopK = Positive(o, "--top-k", 20),
            Quantiles = o.Int("--quantiles", 10),
            ReservoirSize = Positive(o, "--reservoir", 256),
            Seed = o.ULong("--seed", 0),
        };
        if (options.Quantiles < 0) throw new UsageException($"--quantiles {options.Quantiles}: expected 0 or more");
        if (options.ReservoirSize < options.Quantiles) throw new UsageException($"--reservoir {options.ReservoirSize}: must be at least --quantiles {options.Quantiles}");
        int window = o.Int("--window", 8);
        if (window < 0) throw new UsageException($"--window {window}: expected 0 or more");
        var (threads, batch) = RunSettings(o);

        using var encoder = CorpusEncoder.Open(saePath, threads);
        using var dataset = ActivationDataset.Open(paths, DataSource.ReadLoaderOptions(o) with { EvalRows = long.MaxValue });
        if (dataset.Dim != encoder.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE in {saePath} expects d_in = {encoder.Dim}.");
        long rows = dataset.UsedRows;
        bool quiet = o.Flag("--quiet");

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
        if (o.Flag("--json"))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = Path.GetFullPath(outDir), ["tokens"] = rows, ["d_sae"] = table.Features.Count, ["dead"] = table.Dead,
                ["seconds"] = Math.Round(seconds, 3), ["tokens_per_second"] = Math.Round(rows / Math.Max(encodeSeconds, 1e-9), 1),
            }.ToJsonString());
        return CliApp.Ok;
    }

    static int Positive(OptionReader o, string flag, int fallback)
    {
        int v = o.Int(flag, fallback);
        if (v < 1) throw new UsageException($"{flag} {v}: expected at least 1");
        return v;
    }

    /// <summary>--threads, --batch and --kernels, shared with `gba select`.</summary>
    internal static (int Threads, int Batch) RunSettings(OptionReader o)
    {
        if (o.String("--kernels") is { } k) Kernels.KernelSelector.Force(Kernels.KernelSelector.Parse(k));
        return (Positive(o, "--threads", Environment.ProcessorCount), Positive(o, "--batch", CorpusScan.DefaultBatch));
    }
}
