using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Cli.Options;
using GbaEngine.Formats;
using GbaEngine.Uses;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba select`: SAE-based data selection (<see cref="DataSelector"/>). The corpus and the targets are encoded
/// and pooled per sentence, the corpus is indexed by feature, and the samples most similar to the targets are
/// written as JSONL, best first, with their text.
/// </summary>
public static class SelectCommand
{
    const string Input = "Corpus and targets", Selection = "Selection";

    static readonly OptionSpec TokenText = OptionSpec.Valued("token-text", Input, "FILE.tsv", "the corpus' token text (columns sentence and piece): a sample is one sentence");
    static readonly OptionSpec Target = new("target", OptionKind.List, OptionScope.RunControl, Input, "PATH", "the target examples' activation files (repeatable)");
    static readonly OptionSpec TargetText = OptionSpec.Valued("target-text", Input, "FILE.tsv", "their token text (one target per sentence)");
    static readonly OptionSpec Top = OptionSpec.Valued("top", Selection, "K", "select the K best samples") with { Min = 1 };
    static readonly OptionSpec Ratio = OptionSpec.Valued("ratio", Selection, "R", "or the best ceil(R x samples), 0 < R <= 1");
    static readonly OptionSpec Pool = OptionSpec.Valued("pool", Selection, "max|sum|mean", "a sample's code per feature over its tokens (default max)");
    static readonly OptionSpec Similarity = OptionSpec.Valued("similarity", Selection, "jaccard|cosine", "weighted Jaccard sum min / sum max (default) or cosine");
    static readonly OptionSpec Aggregate = OptionSpec.Valued("aggregate", Selection, "max|centroid", "score = best similarity to any target (default) or to the targets' mean code");
    static readonly OptionSpec Weights = OptionSpec.Valued("weights", Selection, "none|idf", "feature weights: 1 (default) or ln((1 + N) / (1 + df)) + 1 over the corpus samples");
    static readonly OptionSpec Out = OptionSpec.Valued("out", "Output", "FILE.jsonl", "one line per selected sample, best first: rank, sample, score, first_row, tokens, text");

    /// <summary>`gba select`'s options.</summary>
    public static readonly OptionSchema Schema = new("select",
        "the corpus sentences most similar to target examples in SAE feature space (JSONL)",
        [
            SharedOptions.Sae, .. FeaturesCommand.Files.Select(f => f with { Group = Input }), TokenText, Target, TargetText,
            Top, Ratio, Pool, Similarity, Aggregate, Weights, Out,
            FeaturesCommand.Batch, SharedOptions.Threads, SharedOptions.Kernels, SharedOptions.Json, SharedOptions.Quiet,
        ])
    {
        Usage = ["--sae DIR --data CORPUS... --token-text CORPUS.tsv --target TARGET... --target-text TARGET.tsv",
                 "  (--top K | --ratio R) --out selected.jsonl [options]"],
        Notes = "A sample is one sentence of the token text; its code is each feature's pooled activation over the sentence.\n" +
                "Scores use an inverted index (feature -> samples), so only samples sharing a feature with a target are read;\n" +
                "the others score 0. Ties keep corpus order. --dtype/--dim/--tensor apply to the targets too. Details: docs/data-selection.md.",
    };

    /// <summary>Runs `gba select` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        string saePath = o.Required(SharedOptions.Sae.Flag);
        var corpusPaths = SharedOptions.DataPaths(o);
        if (corpusPaths.Count == 0) throw new UsageException("--data PATH is required (the corpus' activation files)");
        string corpusText = o.Required(TokenText.Flag, "its sentences are the corpus samples");
        var targetPaths = o.Strings(Target.Flag);
        if (targetPaths.Count == 0) throw new UsageException("--target PATH is required (the target examples' activation files)");
        string targetText = o.Required(TargetText.Flag, "its sentences are the targets");
        string outPath = o.Required(Out.Flag);
        if (o.Has(Top.Flag) == o.Has(Ratio.Flag)) throw new UsageException("give exactly one of --top K and --ratio R");
        int? top = o.Has(Top.Flag) ? o.Int(Top.Flag, 1) : null;
        double? ratio = o.Has(Ratio.Flag) ? o.Double(Ratio.Flag, 0) : null;
        if (ratio is { } r && !(r > 0 && r <= 1)) throw new UsageException($"--ratio {r}: expected 0 < R <= 1");
        var pooling = Choice(o, Pool.Flag, SamplePooling.Max, ("max", SamplePooling.Max), ("sum", SamplePooling.Sum), ("mean", SamplePooling.Mean));
        var options = new SelectionOptions
        {
            Similarity = Choice(o, Similarity.Flag, SampleSimilarity.WeightedJaccard, ("jaccard", SampleSimilarity.WeightedJaccard), ("cosine", SampleSimilarity.Cosine)),
            Aggregation = Choice(o, Aggregate.Flag, TargetAggregation.Max, ("max", TargetAggregation.Max), ("centroid", TargetAggregation.Centroid)),
        };
        var weighting = Choice(o, Weights.Flag, FeatureWeighting.None, ("none", FeatureWeighting.None), ("idf", FeatureWeighting.InverseFrequency));
        var kernels = SharedOptions.ReadKernels(o);
        int threads = SharedOptions.ReadThreads(o), batch = o.Int(FeaturesCommand.Batch.Flag, CorpusScan.DefaultBatch);
        bool quiet = o.Flag(SharedOptions.Quiet.Flag);

        var clock = Stopwatch.StartNew();
        using var encoder = CorpusEncoder.Open(saePath, threads, kernels);
        var loader = SharedOptions.ReadFormat(o) with { EvalRows = long.MaxValue };
        var (corpus, corpusRows) = Encode(encoder, corpusPaths, corpusText, loader, pooling, batch, "corpus", quiet, stderr);
        double encodeSeconds = clock.Elapsed.TotalSeconds;
        var (targets, _) = Encode(encoder, targetPaths, targetText, loader, pooling, batch, "targets", quiet, stderr);

        var scoring = Stopwatch.StartNew();
        var selector = new DataSelector(corpus, weighting);
        var score = selector.Score(targets, options, out long visited);
        int k = top ?? DataSelector.CountForRatio(ratio!.Value, corpus.Count);
        var selected = DataSelector.Rank(score, k);
        double scoreSeconds = scoring.Elapsed.TotalSeconds;

        var text = SampleText(corpusText, corpus, selected, corpusRows);
        AtomicFile.WriteAllText(outPath, string.Concat(selected.Select(s => new JsonObject
        {
            ["rank"] = s.Rank,
            ["sample"] = corpus.Id(s.Sample),
            ["score"] = s.Score,
            ["first_row"] = corpus.FirstRow(s.Sample),
            ["tokens"] = corpus.TokenCount(s.Sample),
            ["text"] = text[s.Sample],
        }.ToResultJson(Runs.FeatureTableFiles.Readable) + "\n")));
        double seconds = clock.Elapsed.TotalSeconds;
        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(ci, $"wrote {outPath}: {selected.Count:N0} of {corpus.Count:N0} samples ({corpusRows:N0} tokens) for {targets.Count} targets; "
            + $"{score.Count(v => v > 0):N0} samples share a feature with them, {visited:N0} index entries read; "
            + $"{corpusRows / Math.Max(encodeSeconds, 1e-9):N0} tokens/s encoding the corpus, index and scoring {scoreSeconds:F2} s, {seconds:F1} s in all"));
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = Path.GetFullPath(outPath), ["samples"] = corpus.Count, ["tokens"] = corpusRows, ["targets"] = targets.Count,
                ["selected"] = selected.Count, ["touched"] = score.Count(v => v > 0), ["postings_read"] = visited,
                ["corpus_tokens_per_second"] = Math.Round(corpusRows / Math.Max(encodeSeconds, 1e-9), 1),
                ["scoring_seconds"] = Math.Round(scoreSeconds, 4), ["seconds"] = Math.Round(seconds, 3),
            }.ToResultJson());
        return CliApp.Ok;
    }

    static (SampleCodes Codes, long Rows) Encode(CorpusEncoder encoder, IReadOnlyList<string> paths, string textPath, LoaderOptions loader,
        SamplePooling pooling, int batch, string what, bool quiet, TextWriter stderr)
    {
        using var dataset = ActivationDataset.Open(paths, loader);
        if (dataset.Dim != encoder.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE expects d_in = {encoder.Dim}.");
        long textRows = TokenTextFile.Read(textPath).LongCount();
        if (textRows != dataset.TokenCount)
            throw new InvalidDataException($"{textPath}: {textRows} token rows, but the {what}' activations have {dataset.TokenCount} rows (they must align row by row).");
        var progress = WorkProgress.For(stderr, quiet, $"{what} tokens", dataset.UsedRows);
        using var stream = dataset.OpenEvalStream();
        return (CorpusScan.Samples(encoder, stream, dataset.UsedRows, textPath, pooling, batch, progress.Report), dataset.UsedRows);
    }

    /// <summary>The text of the selected samples, from one more pass over the token text.</summary>
    static Dictionary<int, string> SampleText(string path, SampleCodes corpus, IReadOnlyList<SelectedSample> selected, long rows)
    {
        var byFirstRow = selected.ToDictionary(s => corpus.FirstRow(s.Sample), s => s.Sample);
        var result = new Dictionary<int, string>();
        var sb = new StringBuilder();
        int current = -1, left = 0;
        long row = 0;
        foreach (var t in TokenTextFile.Read(path))
        {
            if (row >= rows) break;
            if (left == 0 && byFirstRow.TryGetValue(row, out int sample)) { current = sample; left = corpus.TokenCount(sample); sb.Clear(); }
            if (left > 0)
            {
                sb.Append(t.Text);
                if (--left == 0) result[current] = sb.ToString().Trim();
            }
            row++;
        }
        return result;
    }

    static T Choice<T>(OptionReader o, string flag, T fallback, params (string Name, T Value)[] choices)
    {
        if (o.String(flag) is not { } s) return fallback;
        foreach (var (name, value) in choices) if (name == s) return value;
        throw new UsageException($"{flag} '{s}': expected {string.Join(", ", choices.Select(c => c.Name))}");
    }
}
