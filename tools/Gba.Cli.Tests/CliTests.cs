using System.Diagnostics;
using System.Text.Json;
using GbaEngine.Cli;

namespace GbaEngine.Cli.Tests;

/// <summary>The `gba` tool in-process (fast, exact streams) and out-of-process (real exit codes).</summary>
public class CliTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    const string Tiny = "--features 32 --dim 16 --sparsity 2 --d-sae 64 --batch 64 --steps 40 --init-tokens 512 --buffer-tokens 640 --eval-tokens 512 --threads 1";

    [Fact]
    public void TrainJsonLastLineHasTheDocumentedKeys()
    {
        var (code, stdout, _) = Run(["train", .. Tiny.Split(' '), "--json"]);
        Assert.Equal(0, code);
        var last = stdout.TrimEnd().Split('\n')[^1];
        using var doc = JsonDocument.Parse(last);
        foreach (var key in new[] { "method", "frr_0_8", "frr_0_9", "fvu", "l0", "dead_fraction", "tokens", "seconds", "tokens_per_second" })
            Assert.True(doc.RootElement.TryGetProperty(key, out _), $"missing {key}");
        Assert.Equal("gba", doc.RootElement.GetProperty("method").GetString());
        Assert.Equal(64 * 40, doc.RootElement.GetProperty("tokens").GetInt64());
    }

    [Fact]
    public void OutDirectoryGetsConfigMetricsLogAndSummary()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, _, _) = Run(["train", .. Tiny.Split(' '), "--method", "topk", "--k", "2", "--eval-every", "20", "--out", dir]);
            Assert.Equal(0, code);
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "config.json")));
            Assert.Equal("top_k", cfg.RootElement.GetProperty("trainer").GetProperty("method").GetString());
            var lines = File.ReadAllLines(Path.Combine(dir, "metrics.jsonl"));
            Assert.Equal(2, lines.Length);    // step 20 and the final evaluation at 40
            Assert.True(File.Exists(Path.Combine(dir, "summary.json")));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("train --bogus 1", "unknown option '--bogus'")]
    [InlineData("train --method fancy", "option --method")]
    [InlineData("train --steps", "needs a value")]
    [InlineData("train --steps 10 --tokens 100", "not both")]
    [InlineData("frobnicate", "unknown command")]
    public void BadUsageIsOneLineAndExitCode2(string args, string message)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void InvalidSettingIsExitCode2WithMessage()
    {
        var (code, _, err) = Run(["train", "--d-sae", "0", "--steps", "1"]);
        Assert.Equal(2, code);
        Assert.Equal("gba train: --d-sae must be at least 1 (got 0)", err.Trim());
    }

    [Fact]
    public void TrainOnAnActivationFileReportsReconstructionMetricsAndExportsTheSae()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-cli-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            // 2,000 tokens of width 24 from the synthetic model, written as a float16 .npy.
            var model = new GbaEngine.Synthetic.SyntheticModel(new GbaEngine.Synthetic.SyntheticSpec(Features: 40, Dim: 24, Sparsity: 2), 3);
            var rows = new float[2000 * 24];
            model.OpenStream(1).NextBatch(rows, 2000);
            var file = Path.Combine(dir, "acts.npy");
            File.WriteAllBytes(file, GbaEngine.Tests.Activations.TestFiles.Npy("<f2", [2000, 24],
                GbaEngine.Tests.Activations.TestFiles.Encode(rows, GbaEngine.Formats.ActivationDType.F16)));
            var outDir = Path.Combine(dir, "run");
            var (code, stdout, err) = Run(["train", "--data", file, "--d-sae", "64", "--batch", "64", "--steps", "40", "--init-tokens", "512",
                "--buffer-tokens", "640", "--threads", "1", "--out", outDir, "--json"]);
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("frr_0_9").ValueKind);   // no ground truth for files
            Assert.InRange(doc.RootElement.GetProperty("fvu").GetDouble(), 0, 2);
            Assert.True(File.Exists(Path.Combine(outDir, "sae", "sae_weights.safetensors")));
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "config.json")));
            Assert.Equal(200, cfg.RootElement.GetProperty("data").GetProperty("eval_rows").GetInt64());   // 10% of 2,000

            var (missing, _, missingErr) = Run(["train", "--data", Path.Combine(dir, "nope.npy"), "--steps", "1"]);
            Assert.Equal(1, missing);
            Assert.Contains("nope.npy", missingErr);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void InspectThroughTheDispatcher()
    {
        var (code, stdout, _) = Run("inspect", GbaEngine.Tests.Activations.TestFiles.SharedData("use-lite-moby-resid1-40k.f16.npy"), "--json");
        Assert.Equal(0, code);
        Assert.Contains("40000", stdout.TrimEnd().Split('\n')[^1]);
        var (bad, _, err) = Run("inspect", "/nonexistent/file.npy");
        Assert.Equal(1, bad);
        Assert.Contains("/nonexistent/file.npy", err);
    }

    [Fact]
    public void OutOfProcessHelpAndExitCodes()
    {
        var dll = typeof(CliApp).Assembly.Location;
        static (int, string) Exec(string dll, string args)
        {
            var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" {args}") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string all = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, all);
        }
        var (c1, help) = Exec(dll, "demo --help");
        Assert.Equal(0, c1);
        Assert.Contains("--groups", help);
        var (c2, _) = Exec(dll, "train --nope");
        Assert.Equal(2, c2);
        var (c3, json) = Exec(dll, "train " + Tiny + " --json --quiet");
        Assert.Equal(0, c3);
        Assert.Contains("\"frr_0_9\"", json);
    }
}
