using GbaEngine.Tests.Activations;
using static GbaEngine.Cli.Tests.CliHarness;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// Runs too large for the memory are refused before anything is allocated, naming the flag to lower (the
/// issue: "Out of memory." and exit 134). Run as a real process under a 512 MiB DOTNET_GCHeapHardLimit, which
/// the estimate reads as the available memory, as it reads a cgroup limit.
/// </summary>
public class MemoryPreflightTests
{
    static readonly Dictionary<string, string> Limit = new() { ["DOTNET_GCHeapHardLimit"] = "0x20000000" };

    [Theory]
    [InlineData("--batch 1000000000", "lower --batch")]
    [InlineData("--eval-tokens 100000000", "lower --eval-tokens")]
    [InlineData("--dim 4096 --d-sae 200000", "lower --d-sae (or --dim)")]
    public void EachLargeFlagIsRefusedByNameWithoutAllocating(string flags, string message)
    {
        using var t = new TempDir();
        var (code, stdout, err) = Exec(["train", .. flags.Split(' '), "--steps", "1", "--out", t["run"]], Limit);
        Assert.True(code == 2, $"exit {code}: {err}");
        Assert.Contains("of memory and 512.0 MiB is available", err);
        Assert.Contains(message, err);
        AssertOneLine(err);
        Assert.Empty(stdout);
    }

    [Fact]
    public void DryRunValidatesPrintsThePlanAndTheEstimateAndWritesNothing()
    {
        using var t = new TempDir();
        var (code, stdout, err) = Run(["train", .. TinyArgs, "--out", t["run"], "--dry-run"]);
        Assert.True(code == 0, err);
        Assert.Contains("40 steps of 64 tokens", stdout);
        Assert.Contains("nothing trained", stdout);
        Assert.Matches(@"memory estimate [0-9.]+ [KMG]iB of [0-9.]+ [KMG]iB available", stdout);
        Assert.False(Directory.Exists(t["run"]));
        // Validates everything a run would: a bad value is still exit 2.
        Assert.Equal(2, Run(["train", .. Tweak("--d-sae", "0"), "--dry-run"]).Code);
    }
}
