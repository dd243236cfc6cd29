using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using GbaEngine.Checkpoints;
using GbaEngine.Cli;
using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// The built `gba` as a separate process: killed (SIGKILL) at random moments, which may fall inside a
/// checkpoint write, and stopped by SIGINT/SIGTERM. Whatever happens, the newest checkpoint loads
/// and resuming ends exactly where the uninterrupted run ends.
/// </summary>
public class CliInterruptTests(Xunit.Abstractions.ITestOutputHelper output)
{
    sealed class Gba : IDisposable
    {
        readonly StringBuilder _err = new();
        readonly ManualResetEventSlim _started = new();
        public Process Process { get; }

        public Gba(params string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(typeof(CliApp).Assembly.Location);
            foreach (var a in args) psi.ArgumentList.Add(a);
            Process = new Process { StartInfo = psi };
            Process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (_err) _err.AppendLine(e.Data);
                if (e.Data.StartsWith("gba train: GBA", StringComparison.Ordinal)) _started.Set();   // printed once the signal handlers are in place
            };
            Process.OutputDataReceived += (_, _) => { };
            Process.Start();
            Process.BeginErrorReadLine();
            Process.BeginOutputReadLine();
        }

        public string Err { get { lock (_err) return _err.ToString(); } }

        public bool WaitStarted(TimeSpan timeout) => _started.Wait(timeout);

        /// <summary>Waits for exit, including the end of the redirected output.</summary>
        public bool Exited(int milliseconds)
        {
            if (!Process.WaitForExit(milliseconds)) return false;
            Process.WaitForExit();
            return true;
        }

        public void Dispose()
        {
            if (!Process.HasExited) Process.Kill();
            Process.Dispose();
            _started.Dispose();
        }
    }

    static string[] Train(string steps, params string[] more) => ["train", .. CliResumeTests.Tiny.Split(' '), "--steps", steps, .. more];

    [Fact]
    public void KilledAtRandomMomentsTheNewestCheckpointLoadsAndResumeCompletes()
    {
        using var dir = new TempDir();
        string straight = Path.Combine(dir.Path, "straight"), run = Path.Combine(dir.Path, "run");
        // A checkpoint every 3 steps (each some milliseconds of fsyncs), so a kill often lands inside a write.
        var args = Train("600", "--checkpoint-every", "3", "--keep-checkpoints", "2", "--quiet");
        Assert.Equal(0, CliResumeTests.Run([.. args, "--out", straight]).Code);

        var store = new CheckpointStore(Path.Combine(run, "checkpoints"));
        long Newest() { try { return store.List() is [var (step, _), ..] ? step : 0; } catch (IOException) { return 0; } }
        var rng = new Random();
        var history = new List<string>();
        int kills = 0, killsAfterACheckpoint = 0;
        while (true)
        {
            long from = Newest();
            using var gba = new Gba(from > 0 ? ["train", "--resume", run, "--quiet"] : [.. args, "--out", run]);
            // Kill once the run has advanced a random number of steps past where it started (the machine's speed
            // varies too much for wall-clock delays), plus a random few milliseconds; after 8 kills let it finish.
            long target = from + rng.Next(6, 80);
            int extra = rng.Next(0, 30);
            var clock = Stopwatch.StartNew();
            while (kills < 8 && !gba.Process.HasExited && Newest() < target && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(2);
            if (kills == 8 || gba.Exited(extra))
            {
                Assert.True(gba.Exited(300_000) && gba.Process.ExitCode == 0, $"{string.Join(", ", history)}\n{gba.Err}");
                break;
            }
            gba.Process.Kill();
            gba.Process.WaitForExit();
            kills++;
            if (store.List().Count == 0) { history.Add("killed before any checkpoint"); continue; }
            var loaded = store.LoadLatest();
            history.Add($"killed {extra} ms after step {target} was due ({(from > 0 ? $"resumed from {from}" : "fresh")}), newest now {loaded.Checkpoint.Step}");
            Assert.True(loaded.Skipped.Count == 0, $"{string.Join(", ", history)}: {string.Join("; ", loaded.Skipped)}");
            foreach (var (_, path) in store.List()) CheckpointStore.Load(path);    // every step-* directory is complete
            killsAfterACheckpoint++;
        }
        foreach (var h in history) output.WriteLine(h);
        Assert.True(killsAfterACheckpoint >= 2, string.Join(", ", history));
        CliResumeTests.AssertSameResults(straight, run);
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of SigIgn), as a job started in the background of a non-interactive shell does; children inherit that.</summary>
    static bool SigIntIgnored()
    {
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) : null;
        return line is not null && (Convert.ToUInt64(line[7..].Trim(), 16) & 2) != 0;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public void SignalFinishesTheStepWritesACheckpointAndExits130(string signal)
    {
        if (signal == "INT" && SigIntIgnored()) signal = "TERM";   // an inherited SIG_IGN is respected, as it should be
        using var dir = new TempDir();
        string straight = Path.Combine(dir.Path, "straight"), run = Path.Combine(dir.Path, "run");
        var args = Train("8000", "--checkpoint-every", "0");
        var rng = new Random();
        // The whole run lasts about a second on a quiet machine. A signal that lands after the last step is rightly
        // ignored (the run completes, exit 0), so such an attempt says nothing and is retried with a shorter delay.
        for (int attempt = 0; ; attempt++)
        {
            if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
            using var gba = new Gba([.. args, "--out", run]);
            Assert.True(gba.WaitStarted(TimeSpan.FromSeconds(60)), gba.Err);
            // From the first step on (a stop during start-up checkpoints after step 1). kill(2) directly: spawning
            // kill(1) from a loaded test host took longer than the whole run once.
            Thread.Sleep(attempt == 0 ? rng.Next(0, 200) : 0);
            bool delivered = SendSignal(gba.Process.Id, signal == "INT" ? 2 : 15) == 0;   // fails only if the process is gone
            Assert.True(gba.Exited(60_000), gba.Err);
            if (gba.Process.ExitCode == 0 && attempt < 3 && (!delivered || gba.Err.Contains("step 8000/8000", StringComparison.Ordinal)))
            {
                output.WriteLine($"attempt {attempt}: the run finished before SIG{signal} arrived; retrying");
                continue;
            }
            Assert.True(gba.Process.ExitCode == 130, gba.Err);
            Assert.Contains($"SIG{signal}: finishing the current step", gba.Err);
            Assert.Contains($"Resume with: gba train --resume {run}", gba.Err);
            var m = Regex.Match(gba.Err, @"after step (\d+) of 8000; checkpoint written to (\S+)");
            Assert.True(m.Success, gba.Err);
            var loaded = new CheckpointStore(Path.Combine(run, "checkpoints")).LoadLatest();
            Assert.True(long.Parse(m.Groups[1].Value) == loaded.Checkpoint.Step, $"newest checkpoint is step {loaded.Checkpoint.Step}\n{gba.Err}");
            Assert.True(m.Groups[2].Value == loaded.Directory, $"newest checkpoint is {loaded.Directory}\n{gba.Err}");
            break;
        }
        Assert.Equal(0, CliResumeTests.Run("train", "--resume", run).Code);
        Assert.Equal(0, CliResumeTests.Run([.. args, "--out", straight]).Code);
        CliResumeTests.AssertSameResults(straight, run);
    }
}
