using System.Text.Json.Nodes;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba compare`: MCS consistency between run directories.</summary>
public class CompareTests
{
    static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories)) File.Copy(file, file.Replace(from, to));
    }

    [Fact]
    public void ARunAgainstItsCopyIsFullyConsistentAndDifferentSeedsAreLess()
    {
        using var t = new TempDir();
        // M = 700 so the top 0.3% (3 neurons) and top 0.05% (1 neuron) subsets are distinct.
        string[] run = Tweak("--d-sae", "700", "--data-seed", "1");
        Assert.Equal(0, Run(["train", .. run, "--seed", "1", "--out", t["a"], "--quiet"]).Code);
        Assert.Equal(0, Run(["train", .. run, "--seed", "2", "--out", t["b"], "--quiet"]).Code);
        CopyDirectory(t["a"], t["a2"]);

        var (code, stdout, err) = Run("compare", t["a"], t["a2"], t["b"], "--json", "--threads", "1");
        Assert.True(code == 0, err);
        var pairs = JsonNode.Parse(LastLine(stdout))!["pairs"]!.AsArray();
        Assert.Equal(6, pairs.Count);   // ordered pairs of three runs
        var self = pairs.Single(p => p!["a"]!.GetValue<string>() == t["a"] && p["b"]!.GetValue<string>() == t["a2"])!["rows"]!.AsArray();
        Assert.Equal(["all", "top 0.3%", "top 0.05%"], self.Select(r => r!["subset"]!.GetValue<string>()));
        Assert.Equal([700, 3, 1], self.Select(r => r!["neurons"]!.GetValue<int>()));
        foreach (var r in self) Assert.Equal(1.0, r!["above_0_9"]!.GetValue<double>());
        var cross = pairs.Single(p => p!["a"]!.GetValue<string>() == t["a"] && p["b"]!.GetValue<string>() == t["b"])!["rows"]![0]!;
        Assert.True(cross["above_0_9"]!.GetValue<double>() < 1.0);
        Assert.True(cross["above_0_6"]!.GetValue<double>() >= cross["above_0_9"]!.GetValue<double>());
        Assert.Contains("top 0.05%", stdout);
    }

    [Fact]
    public void ABareSaeDirectoryGetsTheAllRowOnly()
    {
        using var t = new TempDir();
        Assert.Equal(0, Run(["train", .. TinyArgs, "--out", t["a"], "--quiet"]).Code);
        var (code, stdout, err) = Run("compare", t["a/sae"], t["a"], "--json");
        Assert.True(code == 0, err);
        var pairs = JsonNode.Parse(LastLine(stdout))!["pairs"]!.AsArray();
        Assert.Single(pairs[0]!["rows"]!.AsArray());
        Assert.Equal(3, pairs[1]!["rows"]!.AsArray().Count);
    }

    [Fact]
    public void ErrorsAreOneLine()
    {
        using var t = new TempDir();
        var (one, _, e1) = Run("compare", t.Path);
        Assert.Equal(2, one);
        AssertOneLine(e1);
        var (missing, _, e2) = Run("compare", t["nope"], t["nope2"]);
        Assert.Equal(1, missing);
        Assert.Contains("nope", e2);
        AssertOneLine(e2);
        Directory.CreateDirectory(t["empty"]);
        var (empty, _, e3) = Run("compare", t["empty"], t["empty"]);
        Assert.Equal(1, empty);
        Assert.Contains("sae_weights.safetensors", e3);
        Assert.Equal(0, Run(["train", .. TinyArgs, "--out", t["a"], "--quiet"]).Code);
        Assert.Equal(0, Run(["train", .. Tweak("--dim", "8"), "--out", t["b"], "--quiet"]).Code);
        var (dims, _, e4) = Run("compare", t["a"], t["b"]);
        Assert.Equal(1, dims);
        Assert.Contains("d = 8", e4);
    }

    [Fact]
    public void OutOfProcess()
    {
        using var t = new TempDir();
        Assert.Equal(0, Run(["train", .. TinyArgs, "--out", t["a"], "--quiet"]).Code);
        var (code, stdout, err) = Exec(["compare", t["a"], t["a"]]);
        Assert.True(code == 0, err);
        Assert.Contains("all", stdout);
        Assert.Equal(2, Exec(["compare", "--bogus"]).Code);
        Assert.Equal(0, Exec(["compare", "--help"]).Code);
    }
}
