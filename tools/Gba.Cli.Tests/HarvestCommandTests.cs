using System.Text.Json.Nodes;
using GbaEngine.Cli.Runs;
using GbaEngine.Onnx.Tests;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// `gba harvest` and `gba eval --model` in-process on the torch-made fixture (Engine.Onnx.Tests' Fixture): the issue's
/// acceptance loop (harvest, train, loss recovered) and the CLI's error contract.
/// </summary>
public class HarvestCommandTests
{
    static (int Code, string Out, string Err) Gba(params string[] args) => CliHarness.Run(args);

    static JsonNode LastJson(string stdout) => JsonNode.Parse(stdout.TrimEnd().Split('\n')[^1])!;

    [Fact]
    public void Harvest_train_and_loss_recovered_from_the_fixture()
    {
        using var dir = new Scratch();
        string hook = Fixture.SpliceHook;
        var h = Gba("harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", hook, "--out", dir["acts"], "--batch", "3", "--threads", "1", "--quiet", "--json");
        Assert.True(h.Code == 0, h.Err);
        Assert.Equal(64, LastJson(h.Out)["tokens"]!.GetValue<long>());
        Assert.True(Fixture.MaxRelativeError(Fixture.ReadRows(dir["acts"]), Fixture.Reference(Fixture.Hooks.Single(x => x.Onnx == hook).Torch)) < 1e-5);
        Assert.Equal(64, TokenText.Read(Path.Combine(dir["acts"], "tokens.tsv")).Count);

        // More tokens to train on: the fixture's text, packed.
        h = Gba("harvest", "--model", Fixture.Model, "--text", Fixture.Text, "--tokenizer", Fixture.Tokenizer, "--context", "32", "--prepend-bos",
            "--hook", hook, "--out", dir["text"], "--dtype", "bf16", "--shard-size", "1M", "--threads", "1", "--quiet");
        Assert.True(h.Code == 0, h.Err);
        Assert.True(Directory.GetFiles(dir["text"], "shard-*.safetensors").Length >= 2);

        var t = Gba("train", "--data", dir["text"], "--token-text", Path.Combine(dir["text"], "tokens.tsv"), "--d-sae", "128", "--batch", "256",
            "--tokens", "200k", "--threads", "1", "--out", dir["run"], "--quiet", "--json");
        Assert.True(t.Code == 0, t.Err);

        var e = Gba("eval", "--sae", dir["run"], "--model", Fixture.Model, "--hook", hook, "--token-ids", Fixture.TokenIds, "--threads", "1", "--json");   // not --quiet: the table is checked
        Assert.True(e.Code == 0, e.Err);
        Assert.Contains("loss recovered", e.Out);
        var j = LastJson(e.Out);
        Assert.Equal(Fixture.Loss("ce_clean"), j["ce_clean"]!.GetValue<double>(), 1e-5);
        Assert.Equal(Fixture.Loss("ce_zero_ablated"), j["ce_ablated"]!.GetValue<double>(), 1e-5);
        Assert.InRange(j["loss_recovered"]!.GetValue<double>(), 0.5, 1.05);
        Assert.InRange(j["kl_spliced"]!.GetValue<double>(), 1e-6, j["kl_ablated"]!.GetValue<double>());
    }

    [Fact]
    public void The_listing_prints_each_hook_under_its_block()
    {
        var r = Gba("harvest", "--model", Fixture.Model, "--list", "--threads", "1");
        Assert.Equal(0, r.Code);
        var lines = r.Out.Split('\n');
        int block1 = Array.IndexOf(lines, "/blocks.1");
        Assert.True(block1 > 0);
        int post = Array.FindIndex(lines, l => l.TrimStart().StartsWith(Fixture.OnnxName("blocks.1.resid_post") + " "));
        Assert.True(post > block1);
        Assert.EndsWith("[batch, sequence, 32] float32  leaves block", lines[post]);
    }

    [Fact]
    public void Bad_models_and_inputs_are_one_line_errors_naming_the_culprit()
    {
        using var dir = new Scratch();
        File.WriteAllBytes(dir["cut.onnx"], File.ReadAllBytes(Fixture.Model)[..5000]);
        AssertFails(1, dir["cut.onnx"], "harvest", "--model", dir["cut.onnx"], "--token-ids", Fixture.TokenIds, "--hook", "x", "--out", dir["a"]);
        AssertFails(1, "no tensor named 'nope'", "harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", "nope", "--out", dir["b"]);
        AssertFails(1, "no tensor named 'nope'", "eval", "--sae", Fixture.Sae, "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", "nope");
        AssertFails(1, "not found", "harvest", "--model", dir["missing.onnx"], "--token-ids", Fixture.TokenIds, "--hook", "x", "--out", dir["c"]);
        AssertFails(2, "one of the two", "harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--text", Fixture.Text, "--hook", "x", "--out", dir["d"]);
        AssertFails(2, "--dtype f64", "harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", "x", "--out", dir["e"], "--dtype", "f64");
        AssertFails(2, "--text needs --tokenizer", "harvest", "--model", Fixture.Model, "--text", Fixture.Text, "--hook", "x", "--out", dir["f"]);

        var r = Gba("harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", Fixture.SpliceHook, "--out", dir["g"], "--quiet");
        Assert.Equal(0, r.Code);
        AssertFails(1, "--resume", "harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", Fixture.SpliceHook, "--out", dir["g"], "--quiet");
        AssertFails(1, "dtype", "harvest", "--model", Fixture.Model, "--token-ids", Fixture.TokenIds, "--hook", Fixture.SpliceHook, "--out", dir["g"], "--dtype", "f16", "--resume", "--quiet");
    }

    static void AssertFails(int code, string expected, params string[] args)
    {
        var r = Gba(args);
        Assert.True(r.Code == code, $"gba {string.Join(' ', args)}: exit {r.Code}, stderr {r.Err}");
        CliHarness.AssertOneLine(r.Err);
        Assert.Contains(expected, r.Err);
    }
}
