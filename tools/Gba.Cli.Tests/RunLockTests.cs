using System.Diagnostics;
using GbaEngine.Cli.Runs;
using GbaEngine.Tests.Activations;
using static GbaEngine.Cli.Tests.CliHarness;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// One writer per run directory (the issue: two `gba train --out conc` both exited 0 and left config.json from
/// one run, summary.json and sae/ from the other, checkpoints from both).
/// </summary>
public class RunLockTests
{
    static Dictionary<string, string> Snapshot(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith(RunLock.FileName, StringComparison.Ordinal))
            .ToDictionary(f => f, f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    [Theory]
    [InlineData("train")]
    [InlineData("demo")]
    public void ASecondWriterIsRefusedNamingTheHolderAndTouchesNothing(string command)
    {
        using var t = new TempDir();
        Assert.Equal(0, Run([command, .. TinyArgs, "--out", t["run"], "--quiet"]).Code);
        var before = Snapshot(t["run"]);
        using (RunLock.Acquire(t["run"], "--out"))
        {
            var (code, stdout, err) = Run([command, .. Tweak("--seed", "2"), "--out", t["run"], "--quiet"]);
            Assert.Equal(1, code);
            Assert.Matches($@"^gba {command}: --out {System.Text.RegularExpressions.Regex.Escape(t["run"])} is in use by another gba run \(PID {Environment.ProcessId} on host {Environment.MachineName} since \S+Z\): wait for it, or choose another --out$", err.Trim());
            Assert.Empty(stdout);
            var (resumeCode, _, resumeErr) = Run(["train", "--resume", t["run"], "--quiet"]);
            Assert.Equal(1, resumeCode);
            Assert.Contains("is in use by another gba run", resumeErr);
        }
        Assert.Equal(before, Snapshot(t["run"]));                     // not one byte changed, no error.txt
    }

    [Fact]
    public void ASweepPointRunTwiceAtOnceIsRefused()
    {
        using var t = new TempDir();
        File.WriteAllText(t["s.json"], """{ "base": { "features": 32, "dim": 16, "sparsity": 2, "d_sae": 64, "batch": 64, "steps": 40, "init_tokens": 512, "eval_tokens": 512, "threads": 1 }, "grid": { "seed": [1, 2] } }""");
        Assert.Equal(0, Run("sweep", t["s.json"], "--out", t["sw"]).Code);
        using (RunLock.Acquire(t["sw/run-001"], "--out"))
        {
            var (code, _, err) = Run("train", "--sweep", t["s.json"], "--out", t["sw"], "--index", "1", "--quiet");
            Assert.Equal(1, code);
            Assert.Contains("run-001 is in use by another gba run", err);
            var (runCode, runOut, _) = Run("sweep", "run", t["s.json"], "--out", t["sw"]);
            Assert.Equal(1, runCode);
            Assert.Contains("run-000: ok", runOut);
            Assert.Contains("run-001: failed: --out", runOut);
        }
        Assert.False(File.Exists(t["sw/run-001/error.txt"]));          // the holder's directory is not written
    }

    [Fact]
    public void TwoProcessesOnOneOutThenKillMinus9FreesTheLock()
    {
        using var t = new TempDir();
        var gba = typeof(CliApp).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])[gba, "train", .. Tweak("--steps", "1000000"), "--out", t["run"], "--checkpoint-every", "0"]) psi.ArgumentList.Add(a);
        using var holder = Process.Start(psi)!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!File.Exists(t["run/config.json"]) && DateTime.UtcNow < deadline) Thread.Sleep(50);
            Assert.True(File.Exists(t["run/config.json"]), "the first run never started");
            var config = File.ReadAllText(t["run/config.json"]);

            var (code, _, err) = Exec(["train", .. Tweak("--seed", "2"), "--out", t["run"], "--quiet"]);
            Assert.Equal(1, code);
            Assert.Contains($"PID {holder.Id} on host {Environment.MachineName}", err);
            Assert.Equal(config, File.ReadAllText(t["run/config.json"]));
            Assert.False(File.Exists(t["run/error.txt"]));
        }
        finally
        {
            holder.Kill();                                            // SIGKILL: no handler runs, the kernel drops the lock
            holder.WaitForExit();
        }
        var (after, _, afterErr) = Exec(["train", .. TinyArgs, "--out", t["run"], "--quiet"]);
        Assert.True(after == 0, afterErr);
        Assert.True(File.Exists(t["run/summary.json"]));
    }
}
