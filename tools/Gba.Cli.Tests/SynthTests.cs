using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Synthetic;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba synth`: the files hold exactly the generator's tokens and features, readable by the loader.</summary>
public class SynthTests
{
    static float[] ReadAll(string path)
    {
        using var ds = ActivationDataset.Open([path], new LoaderOptions { EvalFraction = 0 });
        using var all = ActivationDataset.Open([path], new LoaderOptions { EvalRows = ds.TokenCount });
        using var s = all.OpenEvalStream();
        var v = new float[all.TokenCount * all.Dim];
        s.NextBatch(v, (int)all.TokenCount);
        return v;
    }

    [Fact]
    public void WritesTheTrainingStreamTheFeaturesAndTheSpec()
    {
        using var t = new TempDir();
        var (code, stdout, err) = Run("synth", "--out", t["syn"], "--tokens", "5000", "--features", "40", "--dim", "24", "--sparsity", "3",
            "--profile", "powerlaw", "--exponent", "0.8", "--seed", "5", "--json");
        Assert.True(code == 0, err);
        var json = JsonNode.Parse(LastLine(stdout))!;
        Assert.Equal(5000, json["tokens"]!.GetValue<long>());

        var model = new SyntheticModel(new SyntheticSpec(Features: 40, Dim: 24, Sparsity: 3, Profile: FrequencyProfile.PowerLaw, Exponent: 0.8), 5);
        var expected = new float[5000 * 24];
        model.OpenStream(1).NextBatch(expected, 5000);
        Assert.Equal(expected, ReadAll(t["syn/activations.npy"]));    // bit for bit: f32 round trip
        Assert.Equal(model.Features, ReadAll(t["syn/features.npy"]));
        using (var ds = ActivationDataset.Open(t["syn/activations.npy"]))
            Assert.Equal((5000L, 24), (ds.TokenCount, ds.Dim));

        var spec = JsonNode.Parse(File.ReadAllText(t["syn/synth.json"]))!;
        Assert.Equal(5UL, spec["seed"]!.GetValue<ulong>());
        Assert.Equal("power_law", spec["spec"]!["profile"]!.GetValue<string>());
        var freqs = spec["feature_frequencies"]!.AsArray().Select(f => f!.GetValue<double>()).ToArray();
        Assert.Equal(model.Frequencies, freqs);
        Assert.Equal(3.0, freqs.Sum(), 6);
        Assert.Empty(Directory.GetFiles(t["syn"], ".*tmp*"));   // nothing half-written left behind
    }

    [Fact]
    public void Float16OutputIsTheRoundedStream()
    {
        using var t = new TempDir();
        var (code, _, err) = Run("synth", "--out", t["h"], "--tokens", "1000", "--features", "20", "--dim", "8", "--sparsity", "2", "--dtype", "f16", "--quiet");
        Assert.True(code == 0, err);
        var model = new SyntheticModel(new SyntheticSpec(Features: 20, Dim: 8, Sparsity: 2), 1);
        var expected = new float[1000 * 8];
        model.OpenStream(1).NextBatch(expected, 1000);
        Assert.Equal(expected.Select(x => (float)(Half)x).ToArray(), ReadAll(t["h/activations.npy"]));
    }

    [Fact]
    public void TrainingOnTheFilesWithGroundTruthReportsRecovery()
    {
        using var t = new TempDir();
        Assert.Equal(0, Run("synth", "--out", t["s"], "--tokens", "20000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet").Code);
        var (code, stdout, err) = Run("train", "--data", t["s/activations.npy"], "--ground-truth", t["s/features.npy"], "--method", "topk", "--k", "2",
            "--d-sae", "64", "--batch", "128", "--steps", "400", "--init-tokens", "1024", "--lr", "3e-3", "--threads", "1", "--json", "--quiet");
        Assert.True(code == 0, err);
        var frr = JsonNode.Parse(LastLine(stdout))!["frr_0_8"]!.GetValue<double>();
        Assert.True(frr > 0.5, $"FRR@0.8 {frr}: TopK with k = s on an easy problem recovers most features");

        var (bad, _, badErr) = Run("train", "--data", t["s/activations.npy"], "--ground-truth", t["s/nope.npy"], "--steps", "1");
        Assert.Equal(1, bad);
        Assert.Contains("nope.npy", badErr);
    }

    [Theory]
    [InlineData("synth --tokens 10", 2, "--out DIR is required")]
    [InlineData("synth --out x --dtype f64", 2, "--dtype 'f64'")]
    [InlineData("synth --out x --colour 3", 2, "unknown option '--colour'")]
    [InlineData("synth --out x --tokens 0", 2, "--tokens must be at least 1")]
    [InlineData("synth --out x --sparsity 0", 1, "Sparsity")]
    public void BadArgumentsAreOneLineErrors(string args, int expected, string message)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.Equal(expected, code);
        Assert.Contains(message, err);
        AssertOneLine(err);
    }

    [Fact]
    public void OutOfProcess()
    {
        using var t = new TempDir();
        var (help, helpOut, _) = Exec(["synth", "--help"]);
        Assert.Equal(0, help);
        Assert.Contains("--ground-truth", helpOut);
        var (code, _, err) = Exec(["synth", "--out", t["o"], "--tokens", "2k", "--features", "16", "--dim", "8", "--sparsity", "1"]);
        Assert.True(code == 0, err);
        Assert.True(File.Exists(t["o/activations.npy"]) && File.Exists(t["o/features.npy"]) && File.Exists(t["o/synth.json"]));
        Assert.Equal(2, Exec(["synth"]).Code);
    }
}
