using System.Text.Json.Nodes;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba train --config FILE`: the file's options, flags over the file, and config.json repeating a run.</summary>
public class ConfigTests
{
    static JsonObject Summary(string dir) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.AsObject();

    static readonly string[] MetricKeys = ["fvu", "mse", "l0", "fraction_active", "dead_fraction", "frr_0_8", "frr_0_9", "tokens", "steps"];

    internal static void AssertSameMetrics(JsonObject a, JsonObject b)
    {
        foreach (var k in MetricKeys) Assert.Equal(a[k]?.ToJsonString(), b[k]?.ToJsonString());
    }

    /// <summary>Each method with its own options set away from their defaults: config.json must carry them.</summary>
    [Theory]
    [InlineData("ba --taf 0.05")]
    [InlineData("l1 --l1 0.07 --l1-warmup 0.2")]
    [InlineData("batchtopk --k 3 --threshold-decay 0.9")]
    [InlineData("jumprelu-l0 --l0-coefficient 0.02 --ste-bandwidth 0.05 --threshold-init 0.02")]
    [InlineData("mp --mp-steps 2")]
    [InlineData("topk --k 3 --mix-sparsity 4 --mix-fraction 0.25")]
    [InlineData("topk --k 3 --aux-k 5 --aux-k-coefficient 0.5 --dead-tokens 200 --lr-warmup 0.1 --lr-schedule cosine --lr-decay-start 0.5")]
    [InlineData("batchtopk --k 2 --aux-k 0 --lr-schedule linear")]
    [InlineData("l1 --resample-every 5 --dead-tokens 300 --lr-warmup 0.2")]
    [InlineData("jumprelu-l0 --resample-every 4")]
    [InlineData("topk --k 3 --tied")]
    [InlineData("batchtopk --k 2 --encoder-start decoder")]
    [InlineData("gba --untied --encoder-start linear")]
    [InlineData("gba --gamma-plus 0.05 --gamma-minus 0.02 --dead-epsilon 1e-4")]
    public void ConfigJsonOfARunRepeatsItExactly(string method)
    {
        using var t = new TempDir();
        var (c1, _, e1) = Run(["train", .. TinyArgs, "--method", .. method.Split(' '), "--seed", "7", "--eval-every", "20", "--out", t["a"]]);
        Assert.True(c1 == 0, e1);
        var (c2, _, e2) = Run("train", "--config", t["a/config.json"], "--out", t["b"], "--quiet");
        Assert.True(c2 == 0, e2);
        AssertSameMetrics(Summary(t["a"]), Summary(t["b"]));
        Assert.Equal(File.ReadAllText(t["a/metrics.jsonl"]).Split('\n').Length, File.ReadAllText(t["b/metrics.jsonl"]).Split('\n').Length);
        // The repeat's own config holds the same options.
        var o1 = JsonNode.Parse(File.ReadAllText(t["a/config.json"]))!["options"]!.ToJsonString();
        var o2 = JsonNode.Parse(File.ReadAllText(t["b/config.json"]))!["options"]!.ToJsonString();
        Assert.Equal(o1, o2);
    }

    /// <summary>Defaults that depend on the data or the budget are written resolved: k_aux = d/2, the dead window a tenth of the budget.</summary>
    [Fact]
    public void ResolvedRepairDefaultsAreWrittenIntoTheConfig()
    {
        using var t = new TempDir();
        var (code, _, err) = Run(["train", .. TinyArgs, "--method", "topk", "--k", "2", "--out", t["a"]]);
        Assert.True(code == 0, err);
        var options = JsonNode.Parse(File.ReadAllText(t["a/config.json"]))!["options"]!;
        int dim = options["dim"]!.GetValue<int>();
        Assert.Equal(dim / 2, options["aux_k"]!.GetValue<int>());
        Assert.Equal(options["tokens"]!.GetValue<long>() / 10, options["dead_tokens"]!.GetValue<long>());
        Assert.Equal("constant", options["lr_schedule"]!.GetValue<string>());
        var (bad, _, badErr) = Run(["train", .. TinyArgs, "--method", "gba", "--resample-every", "5"]);
        Assert.Equal(1, bad);
        Assert.Contains("--resample-every applies to", badErr);
    }

    [Fact]
    public void FlagsOverrideTheFileAndStepsReplaceTheFilesTokens()
    {
        using var t = new TempDir();
        File.WriteAllText(t["cfg.json"], """
            // comments are allowed
            { "features": 32, "dim": 16, "sparsity": 2, "d_sae": 64, "batch": 64, "tokens": 2560, "init-tokens": 512,
              "buffer_tokens": 640, "eval_tokens": 512, "threads": 1, "method": "topk", "k": 2, "untied": true }
            """);
        var (code, stdout, err) = Run("train", "--config", t["cfg.json"], "--d-sae", "48", "--steps", "10", "--out", t["run"], "--json");
        Assert.True(code == 0, err);
        var summary = JsonNode.Parse(LastLine(stdout))!;
        Assert.Equal(48, summary["d_sae"]!.GetValue<int>());
        Assert.Equal("topk", summary["method"]!.GetValue<string>());
        Assert.Equal(640, summary["tokens"]!.GetValue<long>());   // --steps 10 x batch 64 from the file
        var options = JsonNode.Parse(File.ReadAllText(t["run/config.json"]))!["options"]!;
        Assert.True(options["untied"]!.GetValue<bool>());
        Assert.Equal(2, options["k"]!.GetValue<int>());
    }

    [Fact]
    public void RelativeDataPathsResolveAgainstTheConfigFile()
    {
        using var t = new TempDir();
        Directory.CreateDirectory(t["data"]);
        var (sc, _, se) = Run("synth", "--out", t["data/syn"], "--tokens", "3000", "--features", "40", "--dim", "24", "--sparsity", "2", "--quiet");
        Assert.True(sc == 0, se);
        File.WriteAllText(t["data/cfg.json"], """{ "data": ["syn/activations.npy"], "ground_truth": "syn/features.npy", "d_sae": 64, "batch": 64, "steps": 20, "init_tokens": 512, "buffer_tokens": 640, "threads": 1 }""");
        var (code, stdout, err) = Run("train", "--config", t["data/cfg.json"], "--json", "--quiet");
        Assert.True(code == 0, err);
        Assert.NotEqual("null", JsonNode.Parse(LastLine(stdout))!["frr_0_9"]?.ToJsonString() ?? "null");
    }

    [Fact]
    public void ResumeOfAConfigRunNeedsNoConfigFile()
    {
        using var t = new TempDir();
        File.WriteAllText(t["cfg.json"], """{ "features": 32, "dim": 16, "sparsity": 2, "d_sae": 64, "batch": 64, "init_tokens": 512, "buffer_tokens": 640, "eval_tokens": 512, "threads": 1, "eval_every": 20 }""");
        var (c1, _, e1) = Run("train", "--config", t["cfg.json"], "--steps", "30", "--checkpoint-every", "10", "--out", t["a"], "--quiet");
        Assert.True(c1 == 0, e1);
        File.Delete(t["cfg.json"]);   // the checkpoint saved the expanded options, not the file name
        var (c2, _, e2) = Run("train", "--resume", t["a"], "--steps", "60", "--quiet");
        Assert.True(c2 == 0, e2);
        var (c3, _, e3) = Run(["train", .. Tweak("--steps", "60", "--eval-every", "20"), "--out", t["b"], "--quiet"]);
        Assert.True(c3 == 0, e3);
        AssertSameMetrics(Summary(t["b"]), Summary(t["a"]));
        Assert.Equal(File.ReadAllLines(t["b/loss.jsonl"]).Length, File.ReadAllLines(t["a/loss.jsonl"]).Select(l => JsonNode.Parse(l)!["step"]!.GetValue<long>()).Distinct().Count());
    }

    [Theory]
    [InlineData("""{ "d_sae": 64, "colour": "blue" }""", "unknown option 'colour'")]
    [InlineData("""{ "out": "elsewhere" }""", "unknown option 'out'")]
    [InlineData("""{ "d_sae": [1, 2] }""", "must be a string or a number")]
    [InlineData("""{ "untied": "yes" }""", "must be true or false")]
    [InlineData("""{ "d_sae": 64, """, "not valid JSON")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    public void BadConfigFilesAreOneLineErrorsNamingTheFile(string content, string message)
    {
        using var t = new TempDir();
        File.WriteAllText(t["bad.json"], content);
        var (code, _, err) = Run("train", "--config", t["bad.json"], "--steps", "1");
        Assert.Equal(1, code);
        Assert.Contains("bad.json", err);
        Assert.Contains(message, err);
        AssertOneLine(err);
    }

    [Fact]
    public void MissingConfigFileIsExitCode1AndConfigWithSweepIsUsage()
    {
        var (code, _, err) = Run("train", "--config", "/nonexistent/cfg.json");
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/cfg.json", err);
        AssertOneLine(err);
        var (usage, _, uerr) = Run("train", "--config", "a.json", "--sweep", "b.json", "--index", "0");
        Assert.Equal(2, usage);
        Assert.Contains("not both", uerr);
        var (idx, _, ierr) = Run("train", "--index", "3");
        Assert.Equal(2, idx);
        Assert.Contains("--sweep", ierr);
    }

    [Fact]
    public void OutOfProcessConfigRun()
    {
        using var t = new TempDir();
        var (c1, _, e1) = Exec(["train", .. TinyArgs, "--out", t["a"], "--quiet"]);
        Assert.True(c1 == 0, e1);
        var (c2, stdout, e2) = Exec(["train", "--config", t["a/config.json"], "--json", "--quiet"]);
        Assert.True(c2 == 0, e2);
        Assert.Equal(Summary(t["a"])["fvu"]!.ToJsonString(), JsonNode.Parse(LastLine(stdout))!["fvu"]!.ToJsonString());
        var (c3, _, e3) = Exec(["train", "--config", t["missing.json"]]);
        Assert.Equal(1, c3);
        Assert.Contains("missing.json", e3);
    }
}
