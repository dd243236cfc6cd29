using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Onnx.Harvest;
using GbaEngine.Onnx.Tokens;

namespace GbaEngine.Onnx.Tests;

/// <summary>Harvested activations against torch's own hidden states, through both input paths, every dtype and shard layout.</summary>
public class HarvestTests
{
    const double Tolerance = 1e-5;

    static HarvestResult Harvest(Scratch dir, TokenSequences tokens, IReadOnlyList<string> hooks, ActivationDType dtype = ActivationDType.F32,
        long shardBytes = 256L << 20, int batch = 3, bool resume = false, string name = "out", IProgress<HarvestProgress>? progress = null, CancellationToken cancel = default) =>
        Harvester.Run(new HarvestOptions(Fixture.Model, hooks, dir[name], dtype, batch, shardBytes, Threads: 1, Resume: resume), tokens, progress, cancel);

    [Fact]
    public void Every_hook_of_every_block_equals_torch_from_token_ids()
    {
        using var dir = new Scratch();
        var hooks = Fixture.Hooks;
        var result = Harvest(dir, TokenSequences.FromNpy(Fixture.TokenIds), hooks.Select(h => h.Onnx).ToList());
        Assert.Equal(4L * Fixture.Context, result.Tokens);
        Assert.Equal(7, hooks.Count); // embed + 3 per block × 2 blocks
        foreach (var (torch, onnx) in hooks)
        {
            var rows = Fixture.ReadRows(dir["out"], onnx);
            double err = Fixture.MaxRelativeError(rows, Fixture.Reference(torch));
            Assert.True(err < Tolerance, $"{torch} ({onnx}): max relative error {err:G3}");
        }
    }

    [Fact]
    public void The_logits_equal_torchs()
    {
        // The declared output harvested like any tensor: the whole model, head included, agrees with torch.
        using var dir = new Scratch();
        Harvest(dir, TokenSequences.FromNpy(Fixture.TokenIds), ["logits"]);
        double err = Fixture.MaxRelativeError(Fixture.ReadRows(dir["out"]), Fixture.Reference("logits"));
        Assert.True(err < Tolerance, $"logits: max relative error {err:G3}");
    }

    [Fact]
    public void Text_through_the_tokenizer_gives_torchs_token_ids_and_activations()
    {
        var tokenizer = TextTokenizer.Load(Fixture.Tokenizer);
        var fromText = TokenSequences.FromText(Fixture.Text, tokenizer, new TextTokenOptions(Fixture.Context, PrependBos: true, TextPacking.Truncate, MaxSequences: 4));
        var reference = TokenSequences.FromNpy(Fixture.TokenIds);
        Assert.Equal(reference.Rows, fromText.Rows);
        Assert.Equal(reference.Ids, fromText.Ids);

        using var dir = new Scratch();
        var hooks = Fixture.Hooks;
        Harvest(dir, fromText, hooks.Select(h => h.Onnx).ToList());
        foreach (var (torch, onnx) in hooks)
        {
            double err = Fixture.MaxRelativeError(Fixture.ReadRows(dir["out"], onnx), Fixture.Reference(torch));
            Assert.True(err < Tolerance, $"{torch} ({onnx}) from text: max relative error {err:G3}");
        }
        var tsv = File.ReadAllLines(Path.Combine(dir["out"], Harvester.TokensName));
        Assert.Equal("row\tsentence\tposition\ttoken_id\tpiece", tsv[0]);
        Assert.Equal(4 * Fixture.Context + 1, tsv.Length);
        Assert.Equal($"1\t0\t1\t{reference.Ids[1]}\t{tokenizer.Piece(reference.Ids[1])}", tsv[2]);
    }

    [Fact]
    public void Jsonl_documents_and_int32_ids_give_the_same_rows()
    {
        using var dir = new Scratch();
        var tokenizer = TextTokenizer.Load(Fixture.Tokenizer);
        var lines = File.ReadLines(Fixture.Text).Take(12).ToList();
        File.WriteAllLines(dir["docs.jsonl"], lines.Select(l => System.Text.Json.JsonSerializer.Serialize(new { id = 1, body = l })));
        var options = new TextTokenOptions(Fixture.Context, PrependBos: true, TextPacking.Truncate, TextField: "body", MaxSequences: 4);
        var fromJsonl = TokenSequences.FromText(dir["docs.jsonl"], tokenizer, options);
        var reference = TokenSequences.FromNpy(Fixture.TokenIds);
        Assert.Equal(reference.Ids, fromJsonl.Ids);

        var narrow = reference.Ids.Select(i => (int)i).ToArray();
        var bytes = new byte[narrow.Length * 4];
        Buffer.BlockCopy(narrow, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(dir["ids32.npy"], GraphTests.Npy("<i4", $"({reference.Rows}, {reference.Length})", bytes));
        Assert.Equal(reference.Ids, TokenSequences.FromNpy(dir["ids32.npy"]).Ids);

        File.WriteAllLines(dir["bad.jsonl"], ["{\"text\": 3}"]);
        var e = Assert.Throws<InvalidDataException>(() => TokenSequences.FromText(dir["bad.jsonl"], tokenizer, new TextTokenOptions(8)));
        Assert.Contains("line 1 has no string field 'text'", e.Message);
    }

    [Fact]
    public void Packing_concatenates_documents_separated_by_eos_and_drops_the_partial_row()
    {
        var tokenizer = TextTokenizer.Load(Fixture.Tokenizer);
        var lines = File.ReadLines(Fixture.Text).Take(6).ToList();
        var stream = new List<long>();
        foreach (var line in lines)
        {
            if (stream.Count > 0) stream.Add(tokenizer.EndOfSentenceId);
            stream.AddRange(tokenizer.Encode(line).Select(t => (long)t));
        }
        using var dir = new Scratch();
        File.WriteAllLines(dir["six.txt"], lines);
        var packed = TokenSequences.FromText(dir["six.txt"], tokenizer, new TextTokenOptions(8, PrependBos: true));
        Assert.Equal(stream.Count / 7, packed.Rows);
        for (int r = 0; r < packed.Rows; r++)
        {
            Assert.Equal(tokenizer.BeginningOfSentenceId, packed.Row(r)[0]);
            Assert.Equal(stream.Skip(r * 7).Take(7), packed.Row(r)[1..].ToArray());
        }
    }

    [Theory]
    [InlineData(ActivationDType.F16)]
    [InlineData(ActivationDType.BF16)]
    public void Half_precision_shards_hold_the_rounded_f32_values(ActivationDType dtype)
    {
        using var dir = new Scratch();
        var tokens = TokenSequences.FromNpy(Fixture.TokenIds);
        string hook = Fixture.OnnxName("blocks.0.mlp_act");
        Harvest(dir, tokens, [hook], name: "f32");
        Harvest(dir, tokens, [hook], dtype, name: "half");
        var wide = Fixture.ReadRows(dir["f32"]);
        var half = Fixture.ReadRows(dir["half"]);
        for (int i = 0; i < wide.Length; i++)
        {
            // ONNX Runtime's own half types as the reference rounding (both round to nearest even).
            float expected = dtype == ActivationDType.F16 ? (float)(Half)wide[i] : (float)(Microsoft.ML.OnnxRuntime.BFloat16)wide[i];
            Assert.Equal(expected, half[i]);
        }
    }

    [Fact]
    public void Shard_size_bounds_each_shard_and_the_loader_reads_them_back_in_order()
    {
        using var dir = new Scratch();
        var tokens = TokenSequences.FromNpy(Fixture.TokenIds);
        var hooks = new[] { Fixture.OnnxName("embed"), Fixture.OnnxName("blocks.1.resid_post") };
        long perSequence = Fixture.Context * 32L * 4 * 2;
        var result = Harvest(dir, tokens, hooks, shardBytes: perSequence * 3 / 2, batch: 2);
        Assert.Equal(4, result.Shards.Count); // one sequence per shard fits the bound
        foreach (var shard in result.Shards) Assert.True(new FileInfo(shard).Length < perSequence + 4096);
        foreach (var (hook, torch) in hooks.Zip(new[] { "embed", "blocks.1.resid_post" }))
            Assert.True(Fixture.MaxRelativeError(Fixture.ReadRows(dir["out"], hook), Fixture.Reference(torch)) < Tolerance);
    }

    [Fact]
    public void An_interrupted_harvest_leaves_only_whole_shards_and_resumes_to_the_same_files()
    {
        using var dir = new Scratch();
        var tokens = TokenSequences.FromNpy(Fixture.TokenIds);
        string[] hooks = [Fixture.OnnxName("blocks.0.resid_post")];
        long perSequence = Fixture.Context * 32L * 4;
        var whole = Harvest(dir, tokens, hooks, shardBytes: perSequence, batch: 1, name: "whole");

        using var cts = new CancellationTokenSource();
        var stop = new Progress(p => { if (p.Tokens >= 2L * Fixture.Context) cts.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() => Harvest(dir, tokens, hooks, shardBytes: perSequence, batch: 1, name: "cut", progress: stop, cancel: cts.Token));
        var left = Directory.GetFiles(dir["cut"]).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(["harvest.json", "shard-00000.safetensors", "shard-00001.safetensors", "tokens.tsv"], left);
        Assert.Contains("\"complete\": false", File.ReadAllText(Path.Combine(dir["cut"], "harvest.json")));

        var again = Assert.Throws<IOException>(() => Harvest(dir, tokens, hooks, shardBytes: perSequence, batch: 1, name: "cut"));
        Assert.Contains("--resume", again.Message);
        var resumed = Harvest(dir, tokens, hooks, shardBytes: perSequence, batch: 1, name: "cut", resume: true);
        Assert.Equal(2, resumed.ShardsResumed);
        for (int s = 0; s < 4; s++)
            Assert.Equal(File.ReadAllBytes(whole.Shards[s]), File.ReadAllBytes(resumed.Shards[s]));
        Assert.Contains("\"complete\": true", File.ReadAllText(Path.Combine(dir["cut"], "harvest.json")));

        var other = Assert.Throws<InvalidDataException>(() => Harvest(dir, tokens, [Fixture.OnnxName("embed")], shardBytes: perSequence, batch: 1, name: "cut", resume: true));
        Assert.Contains("hooks", other.Message);
    }

    /// <summary>Reports synchronously (System.Progress posts to the thread pool).</summary>
    sealed class Progress(Action<HarvestProgress> report) : IProgress<HarvestProgress>
    {
        public void Report(HarvestProgress value) => report(value);
    }
}
