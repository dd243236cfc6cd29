using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GbaEngine.Formats;
using GbaEngine.Onnx.Graph;
using GbaEngine.Onnx.Runtime;
using GbaEngine.Onnx.Tokens;

namespace GbaEngine.Onnx.Harvest;

/// <summary>What to harvest and how.</summary>
/// <param name="ModelPath">The .onnx file.</param>
/// <param name="Hooks">Tensor names to capture (see <see cref="HookCatalog"/>).</param>
/// <param name="OutputDirectory">Where shards, tokens.tsv and harvest.json go.</param>
/// <param name="DType">F32, F16 or BF16 in the shards.</param>
/// <param name="Batch">Sequences per model run: memory is bounded by one batch's activations.</param>
/// <param name="ShardBytes">Upper bound on one shard's data (at least one sequence per shard).</param>
/// <param name="Threads">ONNX Runtime intra-op threads.</param>
/// <param name="Resume">Continue the harvest in <paramref name="OutputDirectory"/> (same model, hooks, tokens and layout).</param>
public sealed record HarvestOptions(string ModelPath, IReadOnlyList<string> Hooks, string OutputDirectory, ActivationDType DType = ActivationDType.F32,
    int Batch = 8, long ShardBytes = 256L << 20, int Threads = 1, bool Resume = false);

/// <summary>Progress of a harvest: tokens written so far (resumed shards included) of the total.</summary>
public readonly record struct HarvestProgress(long Tokens, long TotalTokens);

/// <summary>What a harvest wrote.</summary>
public sealed record HarvestResult(string Directory, IReadOnlyList<string> Shards, IReadOnlyList<(string Name, int Width)> Hooks, long Tokens,
    int ShardsResumed, double Seconds);

/// <summary>
/// Runs a language model over token rows and writes chosen internal tensors as activation shards the engine's loader
/// reads: safetensors files "shard-00000.safetensors", ... each with one [N, d] tensor per hook named after it, rows
/// sequence-major (sequence 0 tokens 0..T-1, then sequence 1, ...), plus tokens.tsv (one line per row, the format
/// `gba train --token-text` reads) and harvest.json (model, hooks, tokens, layout, completion). The model is the
/// file's graph with the hooks as its only outputs, pruned to what they need. harvest.json is written first with
/// "complete": false, every shard appears only when whole, so an interrupted run resumes at its first missing shard.
/// </summary>
public static class Harvester
{
    /// <summary>harvest.json's name in the output directory.</summary>
    public const string ManifestName = "harvest.json";

    /// <summary>tokens.tsv's name in the output directory.</summary>
    public const string TokensName = "tokens.tsv";

    /// <summary>A shard's file name.</summary>
    public static string ShardName(int index) => string.Create(CultureInfo.InvariantCulture, $"shard-{index:D5}.safetensors");

    /// <summary>Harvests <paramref name="tokens"/>; throws <see cref="OperationCanceledException"/> after the current batch when cancelled.</summary>
    public static HarvestResult Run(HarvestOptions options, TokenSequences tokens, IProgress<HarvestProgress>? progress = null, CancellationToken cancel = default)
    {
        if (options.Hooks.Count == 0) throw new ArgumentException("Name at least one hook.");
        if (options.Hooks.Distinct(StringComparer.Ordinal).Count() != options.Hooks.Count) throw new ArgumentException("A hook is named twice.");
        if (options.Batch < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Batch, "Batch must be at least 1.");
        if (options.ShardBytes < 1) throw new ArgumentOutOfRangeException(nameof(options), options.ShardBytes, "ShardBytes must be positive.");
        var clock = Stopwatch.StartNew();
        var graph = OnnxGraph.Load(options.ModelPath);
        foreach (var hook in options.Hooks)
            if (!graph.HasTensor(hook)) throw graph.MissingTensor(hook);
        using var session = new TokenModelSession(options.ModelPath, graph.WithOutputs(options.Hooks), options.Threads);
        session.CheckShape(Math.Min(options.Batch, tokens.Rows), tokens.Length);
        if (graph.Vocabulary() is { } vocab) tokens.CheckVocabulary(checked((int)vocab), options.ModelPath);

        int T = tokens.Length;
        // One small batch tells each hook's width before any file is written.
        var widths = new int[options.Hooks.Count];
        int probeRows = Math.Min(session.FixedBatch ?? 1, tokens.Rows);
        using (var probe = session.Run(tokens.Ids.AsSpan(0, probeRows * T), probeRows, T))
            for (int h = 0; h < widths.Length; h++) widths[h] = probe.TokenWidth(h, probeRows, T);
        long bytesPerSequence = (long)T * widths.Sum() * options.DType.ByteSize();
        int shardSequences = (int)Math.Clamp(options.ShardBytes / bytesPerSequence, 1, tokens.Rows);
        int shardCount = (tokens.Rows + shardSequences - 1) / shardSequences;
        var hooks = options.Hooks.Select((name, h) => (name, widths[h])).ToList();
        var manifest = Manifest(options, graph, session, tokens, hooks, shardSequences, shardCount);

        var dir = options.OutputDirectory;
        var manifestPath = Path.Combine(dir, ManifestName);
        if (options.Resume) CheckResumable(manifestPath, manifest);
        else
        {
            if (Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
                throw new IOException(File.Exists(manifestPath)
                    ? $"{dir}: holds a harvest already; pass --resume to continue it, or choose an empty --out."
                    : $"{dir}: the output directory is not empty; choose a new or empty --out.");
            Directory.CreateDirectory(dir);
            WriteTokens(Path.Combine(dir, TokensName), tokens);
            WriteAtomic(manifestPath, manifest.ToJsonString(JsonOptions));
        }
        foreach (var partial in Directory.EnumerateFiles(dir, "*" + SafetensorsRowWriter.PartialSuffix)) File.Delete(partial);

        var shards = new List<string>();
        int resumed = 0;
        long done = 0, total = (long)tokens.Rows * T;
        for (int s = 0; s < shardCount; s++)
        {
            int first = s * shardSequences, count = Math.Min(shardSequences, tokens.Rows - first);
            var path = Path.Combine(dir, ShardName(s));
            shards.Add(path);
            if (options.Resume && File.Exists(path))
            {
                resumed++;
                done += (long)count * T;
                progress?.Report(new HarvestProgress(done, total));
                continue;
            }
            var metadata = new Dictionary<string, string>
            {
                ["format"] = "gba-harvest",
                ["model"] = Path.GetFileName(options.ModelPath),
                ["first_sequence"] = first.ToString(CultureInfo.InvariantCulture),
                ["sequences"] = count.ToString(CultureInfo.InvariantCulture),
                ["context"] = T.ToString(CultureInfo.InvariantCulture),
            };
            using var writer = new SafetensorsRowWriter(path, hooks, (long)count * T, options.DType, metadata);
            for (int b = 0; b < count; b += options.Batch)
            {
                cancel.ThrowIfCancellationRequested();
                int rows = Math.Min(options.Batch, count - b);
                using var result = session.Run(tokens.Ids.AsSpan((first + b) * T, rows * T), rows, T);
                for (int h = 0; h < hooks.Count; h++)
                {
                    result.TokenWidth(h, rows, T);
                    writer.Write(h, (long)b * T, result.Floats(h));
                }
                done += (long)rows * T;
                progress?.Report(new HarvestProgress(done, total));
            }
            writer.Complete();
        }
        manifest["complete"] = true;
        manifest["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3);
        WriteAtomic(manifestPath, manifest.ToJsonString(JsonOptions));
        return new HarvestResult(dir, shards, hooks, total, resumed, clock.Elapsed.TotalSeconds);
    }

    static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    static JsonObject Manifest(HarvestOptions o, OnnxGraph graph, TokenModelSession session, TokenSequences tokens, List<(string Name, int Width)> hooks, int shardSequences, int shardCount)
    {
        var shards = new JsonArray();
        for (int s = 0; s < shardCount; s++)
        {
            int count = Math.Min(shardSequences, tokens.Rows - s * shardSequences);
            shards.Add(new JsonObject { ["file"] = ShardName(s), ["first_sequence"] = s * shardSequences, ["sequences"] = count, ["rows"] = (long)count * tokens.Length });
        }
        return new JsonObject
        {
            ["format"] = "gba-harvest/1",
            ["model"] = new JsonObject
            {
                ["path"] = Path.GetFullPath(o.ModelPath),
                ["sha256"] = Sha256(o.ModelPath),
                ["input"] = session.TokenInput,
                ["producer"] = $"{graph.Model.ProducerName} {graph.Model.ProducerVersion}".Trim(),
            },
            ["hooks"] = new JsonArray(hooks.Select(h => (JsonNode)new JsonObject
            {
                ["name"] = h.Name, ["d"] = h.Width, ["op"] = graph.Producer(h.Name)?.OpType, ["block"] = HookCatalog.BlockOf(graph.Producer(h.Name)?.Name ?? ""),
            }).ToArray()),
            ["dtype"] = o.DType.Name(),
            ["tokens"] = new JsonObject
            {
                ["source"] = Path.GetFullPath(tokens.Source),
                ["tokenizer"] = tokens.Tokenizer is { } t ? Path.GetFullPath(t.Path) : null,
                ["sequences"] = tokens.Rows,
                ["context"] = tokens.Length,
                ["count"] = (long)tokens.Rows * tokens.Length,
                ["sha256"] = tokens.Fingerprint(),
            },
            ["rows"] = "sequence-major: sequence 0 tokens 0..T-1, then sequence 1, ...; tokens.tsv has one line per row",
            ["shard_sequences"] = shardSequences,
            ["shards"] = shards,
            ["batch"] = o.Batch,
            ["complete"] = false,
        };
    }

    /// <summary>A resumed harvest must be the one started: same model bytes, hooks and widths, dtype, tokens and shard layout.</summary>
    static void CheckResumable(string manifestPath, JsonObject planned)
    {
        if (!File.Exists(manifestPath))
            throw new IOException($"{Path.GetDirectoryName(manifestPath)}: no {ManifestName} to resume (start the harvest without --resume).");
        JsonNode? found;
        try { found = JsonNode.Parse(File.ReadAllText(manifestPath)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{manifestPath}: not valid JSON: {e.Message}", e); }
        string[][] keys = [["model", "sha256"], ["hooks"], ["dtype"], ["tokens", "sha256"], ["shard_sequences"]];
        foreach (var path in keys)
        {
            JsonNode? a = planned, b = found;
            foreach (var k in path) { a = a?[k]; b = b?[k]; }
            if (!JsonNode.DeepEquals(a, b))
                throw new InvalidDataException($"{manifestPath}: cannot resume: {string.Join(".", path)} was {b?.ToJsonString() ?? "missing"}, this run has {a?.ToJsonString()} (same model, hooks, dtype, tokens and --shard-size are needed).");
        }
    }

    static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>tokens.tsv: row, sentence (= sequence), position, token_id, piece; one line per activation row.</summary>
    static void WriteTokens(string path, TokenSequences tokens)
    {
        var tmp = path + ".tmp";
        using (var w = new StreamWriter(tmp, false, new UTF8Encoding(false), 1 << 16))
        {
            w.Write("row\tsentence\tposition\ttoken_id\tpiece\n");
            long row = 0;
            for (int s = 0; s < tokens.Rows; s++)
            {
                var ids = tokens.Row(s);
                for (int p = 0; p < ids.Length; p++, row++)
                {
                    string piece = tokens.Tokenizer?.Piece(ids[p]) ?? $"[{ids[p]}]";
                    w.Write(string.Create(CultureInfo.InvariantCulture, $"{row}\t{s}\t{p}\t{ids[p]}\t{Clean(piece)}\n"));
                }
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>A piece as one TSV field: tabs and line breaks shown as escapes.</summary>
    static string Clean(string piece) => piece.Replace("\t", "\\t").Replace("\n", "\\n").Replace("\r", "\\r");

    static void WriteAtomic(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text + "\n", new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }
}
