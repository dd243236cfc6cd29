using System.Text.Json.Nodes;
using GbaEngine.Tests.Activations;
using static GbaEngine.Cli.Tests.CliHarness;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// --quiet prints nothing but errors and, with --json, the JSON object (the issue: `gba train --quiet` still printed
/// the header, the warnings and the whole summary table). Every command that takes --quiet, on success and on failure.
/// </summary>
public class QuietTests
{
    /// <summary>Each command that takes --quiet, run on a tiny problem ("{t}" is a scratch directory holding a synth
    /// output in data/ and a trained run in run/).</summary>
    public static TheoryData<string> Commands => new()
    {
        "demo " + Tiny,
        "train " + Tiny + " --out {t}/quiet-run",
        "train " + Tiny.Replace("--steps 40", "--steps 2"),   // the budget warning is not an error either
        "synth --out {t}/quiet-synth --tokens 2000 --features 16 --dim 8 --sparsity 2",
        "eval --sae {t}/run --data {t}/data/activations.npy",
        "encode --sae {t}/run --data {t}/data/activations.npy --out {t}/codes.safetensors",
        "features --sae {t}/run --data {t}/data/activations.npy --out {t}/features",
    };

    static TempDir Prepared()
    {
        var t = new TempDir();
        Assert.Equal(0, Run("synth", "--out", t["data"], "--tokens", "4000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet").Code);
        var train = Run([.. "train --data".Split(' '), t["data/activations.npy"], "--out", t["run"],
                         .. "--d-sae 64 --batch 64 --steps 40 --init-tokens 512 --buffer-tokens 640 --eval-tokens 256 --threads 1 --quiet".Split(' ')]);
        Assert.True(train.Code == 0, train.Err);
        return t;
    }

    static string[] Args(string line, TempDir t) => line.Replace("{t}", t.Path).Split(' ');

    [Theory]
    [MemberData(nameof(Commands))]
    public void QuietPrintsNothingOnSuccess(string line)
    {
        using var t = Prepared();
        var loud = Run(Args(line, t));
        Assert.True(loud.Code == 0, loud.Err);
        Assert.NotEqual("", loud.Out + loud.Err);              // without --quiet the command does say something

        var (code, stdout, stderr) = Run([.. Args(line.Replace("quiet-", "quiet2-"), t), "--quiet"]);
        Assert.True(code == 0, stderr);
        Assert.Equal("", stdout);
        Assert.Equal("", stderr);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void QuietWithJsonPrintsExactlyTheJsonObject(string line)
    {
        using var t = Prepared();
        var (code, stdout, stderr) = Run([.. Args(line.Replace("quiet-", "quiet3-"), t), "--quiet", "--json"]);
        Assert.True(code == 0, stderr);
        Assert.Equal("", stderr);
        Assert.Single(stdout.TrimEnd().Split('\n'));
        Assert.IsType<JsonObject>(JsonNode.Parse(stdout));
    }

    [Fact]
    public void QuietStillReportsErrors()
    {
        var (code, stdout, stderr) = Run([.. "train --quiet --json --data /nonexistent/gba-quiet.npy".Split(' ')]);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        AssertOneLine(stderr);
        Assert.Contains("/nonexistent/gba-quiet.npy", stderr);

        var usage = Run("train", "--quiet", "--batch", "-1");
        Assert.Equal(2, usage.Code);
        Assert.Contains("--batch", usage.Err);
    }
}
