using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Formats;
using GbaEngine.Onnx.Graph;
using GbaEngine.Onnx.Harvest;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// gba harvest --model M.onnx --list | --hook NAME[,NAME...] --out DIR (--token-ids IDS.npy | --text FILE --tokenizer PATH):
/// lists a model's hook candidates, or runs it over token sequences with ONNX Runtime and writes the hooks'
/// activations as safetensors shards `gba train --data DIR` reads, with tokens.tsv and harvest.json beside them.
/// </summary>
public static class HarvestCommand
{
    const string Harvest = "Harvest";

    static readonly OptionSpec List = OptionSpec.Switch("list", Harvest,
        "print the tensors that hold one vector per token, with shape and op, grouped by block\n(\"leaves block\" marks a block's output: the residual stream after it, for most models)");
    static readonly OptionSpec Hook = OptionSpec.Valued("hook", Harvest, "NAME,...", "the tensors to capture (names from --list); each becomes one [N, d] tensor per shard");
    static readonly OptionSpec Out = OptionSpec.Valued("out", Harvest, "DIR",
        "a new directory: shard-00000.safetensors ..., tokens.tsv (sentence = sequence,\nfor `gba train --token-text`), harvest.json (model, hooks, tokens, counts)");
    static readonly OptionSpec DType = OptionSpec.Valued("dtype", Harvest, "f32|f16|bf16", "element type of the shards (default f32)");
    static readonly OptionSpec ShardSize = OptionSpec.Valued("shard-size", Harvest, "BYTES", "bound on one shard's data, e.g. 256M (default; at least one sequence per shard)") with { Min = 1 };
    static readonly OptionSpec Resume = OptionSpec.Switch("resume", Harvest, "continue an interrupted harvest in DIR (same model, hooks, tokens and layout)");

    /// <summary>`gba harvest`'s options.</summary>
    public static readonly OptionSchema Schema = new("harvest",
        "activations from an ONNX model (ONNX Runtime): --list its hooks, or write them as shards for train",
        [
            OnnxOptions.Model, OnnxOptions.Batch,
            List, Hook, Out, DType, ShardSize, Resume,
            .. OnnxOptions.Tokens,
            SharedOptions.Threads, SharedOptions.Json, SharedOptions.Quiet,
        ])
    {
        Usage = ["--model M.onnx --list", "--model M.onnx --hook NAME[,NAME...] --out DIR (--token-ids IDS.npy | --text FILE --tokenizer PATH)"],
        Notes = """
            Rows are sequence-major: sequence 0 tokens 0..T-1, then sequence 1, ... An interrupted harvest (Ctrl-C)
            keeps its complete shards only; --resume continues from the first missing one.
            """,
    };

    /// <summary>Runs `gba harvest` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        o.NoPositional();
        string model = o.Required(OnnxOptions.Model.Flag);
        int threads = SharedOptions.ReadThreads(o);
        if (o.Flag(List.Flag)) return ListHooks(model, threads, o.Flag(SharedOptions.Json.Flag), stdout);

        string hookList = o.Required(Hook.Flag, "run with --list to see the candidates");
        var hooks = hookList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hooks.Length == 0) throw new UsageException("--hook: name at least one tensor");
        if (hooks.Distinct(StringComparer.Ordinal).Count() != hooks.Length) throw new UsageException("--hook: a tensor is named twice");
        string outDir = o.Required(Out.Flag, "a new directory for the shards");
        var dtypeName = o.String(DType.Flag) ?? "f32";
        var dtype = ActivationDTypes.TryParse(dtypeName) is { } t && t != ActivationDType.F64 ? t : throw new UsageException($"--dtype {dtypeName}: expected f32, f16 or bf16");
        int batch = OnnxOptions.ReadBatch(o);
        long shardBytes = o.Long(ShardSize.Flag, 256L << 20);
        var tokens = OnnxOptions.ReadTokens(o);

        var progress = WorkProgress.For(stderr, o.Flag(SharedOptions.Quiet.Flag), "tokens", (long)tokens.Rows * tokens.Length);
        using var signals = new InterruptSignals("harvest", stderr, "finishing the current batch; complete shards are kept and --resume continues");
        HarvestResult result;
        try
        {
            result = Harvester.Run(new HarvestOptions(model, hooks, outDir, dtype, batch, shardBytes, threads, o.Flag(Resume.Flag)), tokens,
                new Reporter(p => progress.Report(p.Tokens)), signals.Token);
        }
        catch (OperationCanceledException) when (signals.Requested)
        {
            stderr.WriteLine($"gba harvest: interrupted; {outDir} keeps its complete shards: run the same command with --resume to continue");
            return CliApp.Interrupted;
        }
        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(ci, $"harvested {result.Tokens:N0} tokens ({tokens.Rows:N0} sequences of {tokens.Length}) from {model} in {result.Seconds:F1} s ({result.Tokens / Math.Max(result.Seconds, 1e-9):N0} tokens/s, {threads} threads)"));
        foreach (var (name, width) in result.Hooks) stdout.WriteLine(string.Create(ci, $"  {name}  [{result.Tokens}, {width}] {dtype.Name()}"));
        stdout.WriteLine($"wrote {result.Shards.Count} shard(s){(result.ShardsResumed > 0 ? $" ({result.ShardsResumed} from the interrupted run)" : "")}, {Harvester.TokensName} and {Harvester.ManifestName} to {outDir}");
        if (hooks.Length > 1) stdout.WriteLine($"train on one hook with: gba train --data {outDir} --tensor NAME ...");
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = outDir, ["tokens"] = result.Tokens, ["sequences"] = tokens.Rows, ["context"] = tokens.Length,
                ["shards"] = result.Shards.Count, ["resumed_shards"] = result.ShardsResumed, ["dtype"] = dtype.Name(),
                ["hooks"] = new JsonArray(result.Hooks.Select(h => (JsonNode)new JsonObject { ["name"] = h.Name, ["d"] = h.Width }).ToArray()),
                ["seconds"] = Math.Round(result.Seconds, 3), ["tokens_per_second"] = Math.Round(result.Tokens / Math.Max(result.Seconds, 1e-9), 1), ["threads"] = threads,
            }.ToResultJson());
        return CliApp.Ok;
    }

    static int ListHooks(string model, int threads, bool json, TextWriter stdout)
    {
        var graph = OnnxGraph.Load(model);
        var (candidates, outputs) = HookCatalog.List(graph, threads);
        var inputs = string.Join(", ", graph.Inputs.Select(i => i.Name));
        stdout.WriteLine($"{model}: inputs {inputs}; {candidates.Count} per-token tensors among {outputs} node outputs");
        int nameWidth = Math.Min(72, candidates.Select(c => c.Name.Length).DefaultIfEmpty(8).Max());
        string? block = null;
        foreach (var c in candidates)
        {
            if (c.Block != block)
            {
                block = c.Block;
                stdout.WriteLine(block.Length == 0 ? "(outside numbered blocks)" : block);
            }
            stdout.WriteLine($"  {c.Name.PadRight(nameWidth)}  {c.OpType,-20} [{string.Join(", ", c.Shape)}] {c.ElementType}{(c.LeavesBlock ? "  leaves block" : "")}");
        }
        if (json)
            stdout.WriteLine(new JsonObject
            {
                ["model"] = model,
                ["candidates"] = new JsonArray(candidates.Select(c => (JsonNode)new JsonObject
                {
                    ["name"] = c.Name, ["op"] = c.OpType, ["block"] = c.Block, ["shape"] = new JsonArray(c.Shape.Select(s => (JsonNode)s).ToArray()),
                    ["d"] = c.Width, ["dtype"] = c.ElementType, ["leaves_block"] = c.LeavesBlock,
                }).ToArray()),
            }.ToResultJson());
        return CliApp.Ok;
    }

    sealed class Reporter(Action<HarvestProgress> report) : IProgress<HarvestProgress>
    {
        public void Report(HarvestProgress value) => report(value);
    }
}
