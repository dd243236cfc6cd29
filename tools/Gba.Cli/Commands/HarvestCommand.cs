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
    static readonly HashSet<string> ValueOptions = ["--model", "--hook", "--out", "--dtype", "--batch", "--shard-size", "--threads", .. TokenInput.ValueOptions];
    static readonly HashSet<string> Flags = ["--list", "--resume", "--json", "--quiet", "--help", "-h", .. TokenInput.Flags];

    public static readonly string Help = """
        gba harvest: activations from an ONNX model, run with ONNX Runtime

        Usage: gba harvest --model M.onnx --list
               gba harvest --model M.onnx --hook NAME[,NAME...] --out DIR (--token-ids IDS.npy | --text FILE --tokenizer PATH)

          --model M.onnx       the model (torch.onnx.export or Hugging Face Optimum); token ids in, any outputs
          --list               print the tensors that hold one vector per token, with shape and op, grouped by block
                               ("leaves block" marks a block's output: the residual stream after it, for most models)
          --hook NAME,...      the tensors to capture (names from --list); each becomes one [N, d] tensor per shard
          --out DIR            a new directory: shard-00000.safetensors ..., tokens.tsv (sentence = sequence,
                               for `gba train --token-text`), harvest.json (model, hooks, tokens, counts)
        """ + "\n" + TokenInput.Help + """

          --dtype f32|f16|bf16 element type of the shards (default f32)
          --batch N            sequences per model run (default 8); memory holds one batch
          --shard-size BYTES   bound on one shard's data, e.g. 256M (default; at least one sequence per shard)
          --threads N          ONNX Runtime threads (default: all cores)
          --resume             continue an interrupted harvest in DIR (same model, hooks, tokens and layout)
          --json (last stdout line: one JSON object)   --quiet (no progress)

        Rows are sequence-major: sequence 0 tokens 0..T-1, then sequence 1, ... An interrupted harvest (Ctrl-C)
        keeps its complete shards only; --resume continues from the first missing one.

        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        if (o.Positional.Count > 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        string model = o.String("--model") ?? throw new UsageException("--model M.onnx is required");
        int threads = o.Int("--threads", Environment.ProcessorCount);
        if (threads < 1) throw new UsageException($"--threads {threads}: expected at least 1");
        if (o.Flag("--list")) return List(model, threads, o.Flag("--json"), stdout);

        string hookList = o.String("--hook") ?? throw new UsageException("--hook NAME[,NAME...] is required (run with --list to see the candidates)");
        var hooks = hookList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (hooks.Length == 0) throw new UsageException("--hook: name at least one tensor");
        if (hooks.Distinct(StringComparer.Ordinal).Count() != hooks.Length) throw new UsageException("--hook: a tensor is named twice");
        string outDir = o.String("--out") ?? throw new UsageException("--out DIR is required (a new directory for the shards)");
        var dtypeName = o.String("--dtype") ?? "f32";
        var dtype = ActivationDTypes.TryParse(dtypeName) is { } t && t != ActivationDType.F64 ? t : throw new UsageException($"--dtype {dtypeName}: expected f32, f16 or bf16");
        int batch = o.Int("--batch", 8);
        if (batch < 1) throw new UsageException($"--batch {batch}: expected at least 1");
        long shardBytes = o.Long("--shard-size", 256L << 20);
        if (shardBytes < 1) throw new UsageException($"--shard-size {shardBytes}: expected a positive number of bytes");
        var tokens = TokenInput.Read(o);

        var progress = WorkProgress.For(stderr, o.Flag("--quiet"), "tokens", (long)tokens.Rows * tokens.Length);
        using var signals = new InterruptSignals("harvest", stderr, "finishing the current batch; complete shards are kept and --resume continues");
        HarvestResult result;
        try
        {
            result = Harvester.Run(new HarvestOptions(model, hooks, outDir, dtype, batch, shardBytes, threads, o.Flag("--resume")), tokens,
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
        if (o.Flag("--json"))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = outDir, ["tokens"] = result.Tokens, ["sequences"] = tokens.Rows, ["context"] = tokens.Length,
                ["shards"] = result.Shards.Count, ["resumed_shards"] = result.ShardsResumed, ["dtype"] = dtype.Name(),
                ["hooks"] = new JsonArray(result.Hooks.Select(h => (JsonNode)new JsonObject { ["name"] = h.Name, ["d"] = h.Width }).ToArray()),
                ["seconds"] = Math.Round(result.Seconds, 3), ["tokens_per_second"] = Math.Round(result.Tokens / Math.Max(result.Seconds, 1e-9), 1), ["threads"] = threads,
            }.ToJsonString());
        return CliApp.Ok;
    }

    static int List(string model, int threads, bool json, TextWriter stdout)
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
            }.ToJsonString());
        return CliApp.Ok;
    }

    sealed class Reporter(Action<HarvestProgress> report) : IProgress<HarvestProgress>
    {
        public void Report(HarvestProgress value) => report(value);
    }
}
