using System.Diagnostics;
using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Onnx.Tests;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// The built `gba harvest` as a separate process, killed (SIGKILL) mid-run or stopped by SIGTERM: the directory holds
/// only whole shards the loader reads, and --resume ends with the same files as an uninterrupted harvest.
/// </summary>
public class HarvestInterruptTests
{
    /// <summary>About 400 shards of 4 sequences: long enough to be stopped in the middle.</summary>
    static string[] Harvest(string outDir, params string[] more) =>
        ["harvest", "--model", Fixture.Model, "--text", Fixture.Text, "--tokenizer", Fixture.Tokenizer, "--context", "16",
         "--hook", Fixture.SpliceHook, "--out", outDir, "--batch", "1", "--shard-size", "8192", "--threads", "1", "--quiet", .. more];

    static Process Start(string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(typeof(CliApp).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        return p;
    }

    static int Shards(string dir) => Directory.Exists(dir) ? Directory.GetFiles(dir, "shard-*.safetensors").Length : 0;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    [Theory]
    [InlineData(9)]   // SIGKILL: no chance to clean up
    [InlineData(15)]  // SIGTERM: finishes the batch, exits 130
    public void A_stopped_harvest_keeps_whole_shards_and_resumes_to_the_same_files(int signal)
    {
        using var dir = new Scratch();
        using (var straight = Start(Harvest(dir["straight"])))
        {
            string err = straight.StandardError.ReadToEnd();
            straight.WaitForExit();
            Assert.True(straight.ExitCode == 0, err);
        }
        int total = Shards(dir["straight"]);
        Assert.True(total > 50, $"{total} shards");

        using (var cut = Start(Harvest(dir["cut"])))
        {
            var clock = Stopwatch.StartNew();
            while (Shards(dir["cut"]) < 20 && !cut.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2)) Thread.Sleep(5);
            Assert.False(cut.HasExited, "the harvest ended before it could be stopped");
            Assert.Equal(0, SendSignal(cut.Id, signal));
            string err = cut.StandardError.ReadToEnd();
            cut.WaitForExit();
            if (signal == 15)
            {
                Assert.Equal(CliApp.Interrupted, cut.ExitCode);
                Assert.Contains("--resume", err);
            }
        }
        int kept = Shards(dir["cut"]);
        Assert.InRange(kept, 20, total - 1);
        Assert.True(signal == 9 || Directory.GetFiles(dir["cut"], "*" + SafetensorsRowWriter.PartialSuffix).Length == 0, "SIGTERM must remove the partial shard");
        using (var partial = ActivationDataset.Open(dir["cut"]))
            Assert.Equal(kept * 4 * 16L, partial.TokenCount);

        using (var resume = Start(Harvest(dir["cut"], "--resume")))
        {
            string err = resume.StandardError.ReadToEnd();
            resume.WaitForExit();
            Assert.True(resume.ExitCode == 0, err);
        }
        Assert.Empty(Directory.GetFiles(dir["cut"], "*" + SafetensorsRowWriter.PartialSuffix));
        foreach (var shard in Directory.GetFiles(dir["straight"], "shard-*.safetensors"))
            Assert.Equal(File.ReadAllBytes(shard), File.ReadAllBytes(Path.Combine(dir["cut"], Path.GetFileName(shard))));
    }
}
