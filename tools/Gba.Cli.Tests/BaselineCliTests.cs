using System.Text.Json;
using GbaEngine.Cli;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba train --method l1|batchtopk|jumprelu-l0` and their hyper-parameter flags.</summary>
public class BaselineCliTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    const string Tiny = "--features 32 --dim 16 --sparsity 2 --d-sae 64 --batch 64 --steps 40 --init-tokens 512 --eval-tokens 512 --threads 1 --lr 3e-3";

    [Theory]
    [InlineData("l1 --l1 0.1 --l1-warmup 0.2", "l1")]
    [InlineData("batchtopk --k 2 --threshold-decay 0.9", "batchtopk")]
    [InlineData("jumprelu-l0 --l0-coefficient 0.003 --ste-bandwidth 0.01 --threshold-init 0.002", "jumprelu-l0")]
    public void EachBaselineTrainsFromTheCommandLine(string method, string name)
    {
        var (code, stdout, err) = Run(["train", .. Tiny.Split(' '), "--method", .. method.Split(' '), "--json"]);
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        Assert.Equal(name, doc.RootElement.GetProperty("method").GetString());
        Assert.True(double.IsFinite(doc.RootElement.GetProperty("fvu").GetDouble()));
        Assert.Contains($"method {name.ToUpperInvariant()}", stdout);
        if (name == "batchtopk") Assert.Contains("inference threshold", stdout);
    }

    [Fact]
    public void BatchTopKExportsAsJumpReluWithItsThreshold()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, err) = Run(["train", .. Tiny.Split(' '), "--method", "batchtopk", "--k", "2", "--out", dir]);
            Assert.True(code == 0, err);
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "sae", "cfg.json")));
            Assert.Equal("jumprelu", cfg.RootElement.GetProperty("architecture").GetString());
            Assert.Equal("batchtopk", cfg.RootElement.GetProperty("gba_engine").GetProperty("method").GetString());
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
            Assert.Equal(0.99, config.RootElement.GetProperty("trainer").GetProperty("threshold_decay").GetDouble());
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("topk", "", false, "linear")]
    [InlineData("batchtopk", "", false, "linear")]
    [InlineData("topk", "--tied", true, null)]
    [InlineData("topk", "--encoder-start decoder", false, "decoder")]
    [InlineData("gba", "", true, null)]
    [InlineData("gba", "--untied", false, "decoder")]
    public void TopKAndBatchTopKTrainUntiedWithThePeersStartUnlessTold(string method, string flags, bool tied, string? start)
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, err) = Run(["train", .. Tiny.Split(' '), "--method", method, .. flags.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--out", dir]);
            Assert.True(code == 0, err);
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
            Assert.Equal(tied, config.RootElement.GetProperty("trainer").GetProperty("tied").GetBoolean());
            var options = config.RootElement.GetProperty("options");
            Assert.Equal(!tied, options.GetProperty("untied").GetBoolean());
            Assert.Equal(start, options.TryGetProperty("encoder_start", out var s) ? s.GetString() : null);
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "sae", "cfg.json")));
            Assert.Equal(tied, cfg.RootElement.GetProperty("gba_engine").GetProperty("tied").GetBoolean());
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("--method l1 --l1 -1", "--l1 must be finite and non-negative")]
    [InlineData("--method jumprelu-l0 --ste-bandwidth 0", "--ste-bandwidth must lie in")]
    [InlineData("--method batchtopk --k 0", "--k must lie in 1..--d-sae = ")]
    [InlineData("--method batchtopk --threshold-decay 1", "--threshold-decay must lie in [0, 1)")]
    [InlineData("--method topk --tied --encoder-start linear", "--encoder-start applies to untied SAEs only")]
    [InlineData("--method topk --tied --untied", "give --tied or --untied, not both")]
    [InlineData("--method topk --untied --encoder-start unit", "option --encoder-start: cannot")]
    [InlineData("--method gba --gamma-plus 0", "--gamma-plus must lie in (0, 1]")]
    [InlineData("--method ba --gamma-minus 1.5", "--gamma-minus must lie in (0, 1]")]
    public void BadHyperParameterIsExitCode2WithOneMessageInFlagTerms(string args, string message)
    {
        var (code, _, err) = Run(["train", .. Tiny.Split(' '), .. args.Split(' ')]);
        Assert.Equal(2, code);                       // bad usage, as docs/cli.md promises
        Assert.Contains(message, err);
        Assert.DoesNotContain("TrainerOptions", err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void HelpDocumentsTheBaselinesAndTheirFlags()
    {
        var (code, stdout, _) = Run("train", "--help");
        Assert.Equal(0, code);
        foreach (var s in new[] { "l1|batchtopk|jumprelu-l0", "--l1 LAMBDA", "--l1-warmup", "--l0-coefficient", "--ste-bandwidth", "--threshold-init", "--threshold-decay" })
            Assert.Contains(s, stdout);
    }
}
