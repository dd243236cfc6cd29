using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Checkpoints;
using GbaEngine.Cli;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Formats;
using GbaEngine.Streams;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba train --resume` in-process: exact continuation, the saved command line, mismatches and damage.</summary>
public class CliResumeTests
{
    internal const string Tiny = "--features 32 --dim 16 --sparsity 2 --d-sae 64 --batch 64 --init-tokens 512 --buffer-tokens 640 --eval-tokens 512 --threads 1 --eval-every 20";

    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    static string[] Args(string fixedArgs, params string[] more) => ["train", .. fixedArgs.Split(' '), .. more];

    /// <summary>Asserts two run directories hold the same results: summary, every metrics line and the exported SAE (timings aside).</summary>
    internal static void AssertSameResults(string expectedDir, string actualDir)
    {
        static JsonNode Strip(string json)
        {
            var o = JsonNode.Parse(json)!.AsObject();
            o.Remove("seconds");
            o.Remove("tokens_per_second");
            return o;
        }
        Assert.True(JsonNode.DeepEquals(Strip(File.ReadAllText(Path.Combine(expectedDir, "summary.json"))), Strip(File.ReadAllText(Path.Combine(actualDir, "summary.json")))));
        var a = File.ReadAllLines(Path.Combine(expectedDir, "metrics.jsonl"));
        var b = File.ReadAllLines(Path.Combine(actualDir, "metrics.jsonl"));
        Assert.True(a.Length == b.Length, $"metrics.jsonl has {a.Length} lines straight and {b.Length} resumed:\n{string.Join('\n', a)}\n---\n{string.Join('\n', b)}");
        for (int i = 0; i < a.Length; i++) Assert.True(JsonNode.DeepEquals(Strip(a[i]), Strip(b[i])), $"metrics line {i + 1}:\n{a[i]}\n{b[i]}");
        Assert.True(File.ReadAllBytes(Path.Combine(expectedDir, "sae", "sae_weights.safetensors")).AsSpan()
            .SequenceEqual(File.ReadAllBytes(Path.Combine(actualDir, "sae", "sae_weights.safetensors"))), "the exported weights differ");
    }

    [Fact]
    public void ResumeFromTheSavedCommandLineMatchesTheStraightRun()
    {
        using var dir = new TempDir();
        string straight = Path.Combine(dir.Path, "straight"), run = Path.Combine(dir.Path, "run");
        Assert.Equal(0, Run(Args(Tiny, "--steps", "80", "--out", straight)).Code);

        // 40 steps checkpointed at 15, 30 and the end; the end checkpoint is lost, so the resume starts at 30
        // (mid-buffer: 10-step GBA buffers) and extends the budget to 80 steps.
        var (code, _, err) = Run(Args(Tiny, "--steps", "40", "--checkpoint-every", "15", "--out", run));
        Assert.True(code == 0, err);
        Assert.Equal(new long[] { 40, 30, 15 }, new CheckpointStore(Path.Combine(run, "checkpoints")).List().Select(c => c.Step));
        Directory.Delete(Path.Combine(run, "checkpoints", "step-000000040"), true);
        (code, _, err) = Run("train", "--resume", run, "--steps", "80");
        Assert.True(code == 0, err);
        Assert.Contains("resuming", err);
        Assert.Contains("from step 30 of 80", err);
        AssertSameResults(straight, run);

        // Resuming a finished run does no work and changes nothing.
        (code, _, err) = Run("train", "--resume", run + "/", "--out", run, "--json");
        Assert.True(code == 0, err);
        Assert.Contains("from step 80 of 80", err);
        AssertSameResults(straight, run);

        // One named checkpoint directory: the saved --checkpoint-every 15 carried over, so 60 is among the kept ones.
        Assert.Equal(new long[] { 80, 75, 60 }, new CheckpointStore(Path.Combine(run, "checkpoints")).List().Select(c => c.Step));
        (code, _, err) = Run("train", "--resume", Path.Combine(run, "checkpoints", "step-000000060"));
        Assert.True(code == 0, err);
        Assert.Contains("from step 60 of 80", err);
        AssertSameResults(straight, run);
    }

    [Fact]
    public void ResumeOnActivationFilesReopensTheShuffledStreamAtItsPosition()
    {
        using var dir = new TempDir();
        var model = new SyntheticModel(new SyntheticSpec(Features: 40, Dim: 24, Sparsity: 2), 3);
        var rows = new float[1500 * 24];
        model.OpenStream(1).NextBatch(rows, 1500);
        var file = dir.File("acts.npy", TestFiles.Npy("<f4", [1500, 24], TestFiles.Encode(rows, ActivationDType.F32)));
        string common = $"--data {file} --d-sae 64 --batch 64 --init-tokens 512 --buffer-tokens 640 --threads 2 --eval-every 10";
        string straight = Path.Combine(dir.Path, "straight"), run = Path.Combine(dir.Path, "run");
        Assert.Equal(0, Run(Args(common, "--steps", "50", "--out", straight)).Code);
        var (code, _, err) = Run(Args(common, "--steps", "50", "--checkpoint-every", "23", "--out", run));
        Assert.True(code == 0, err);
        Directory.Delete(Path.Combine(run, "checkpoints", "step-000000050"), true);
        Assert.Equal(StreamKind.Activations, new CheckpointStore(Path.Combine(run, "checkpoints")).LoadLatest().Checkpoint.Stream.Kind);
        (code, _, err) = Run("train", "--resume", run);
        Assert.True(code == 0, err);
        Assert.Contains("from step 46 of 50", err);
        AssertSameResults(straight, run);
    }

    [Fact]
    public void ChangedSettingsAndMisuseAreOneClearError()
    {
        using var dir = new TempDir();
        string run = Path.Combine(dir.Path, "run");
        Assert.Equal(0, Run(Args(Tiny, "--steps", "30", "--checkpoint-every", "10", "--out", run)).Code);

        var (code, _, err) = Run("train", "--resume", run, "--d-sae", "128", "--method", "topk");
        Assert.Equal(1, code);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains("does not match this run", err);
        Assert.Contains("neurons 64 (checkpoint) vs 128 (now)", err);
        Assert.Contains("method \"gba\" (checkpoint) vs \"top_k\" (now)", err);

        (code, _, err) = Run("train", "--resume", run, "--features", "40");
        Assert.Equal(1, code);
        Assert.Contains("the checkpoint was trained on", err);

        (code, _, err) = Run(Args(Tiny, "--steps", "30", "--out", run));
        Assert.Equal(2, code);
        Assert.Contains($"gba train --resume {run}", err);

        (code, _, err) = Run("train", "--resume", run, "--out", Path.Combine(dir.Path, "elsewhere"));
        Assert.Equal(2, code);
        Assert.Contains("--out must be the directory being resumed", err);

        (code, _, err) = Run("train", "--resume", Path.Combine(dir.Path, "missing"));
        Assert.Equal(1, code);
        Assert.Contains("missing", err);

        (code, _, err) = Run(Args(Tiny, "--steps", "30", "--checkpoint-every", "10"));
        Assert.Equal(2, code);
        Assert.Contains("need --out DIR", err);

        (code, _, err) = Run("train", "--resume", run, "--steps", "20");
        Assert.Equal(1, code);
        Assert.Contains("past this run's budget of 20 steps", err);
    }

    [Fact]
    public void DamagedLatestCheckpointWarnsAndFallsBackOrNamesTheFile()
    {
        using var dir = new TempDir();
        string straight = Path.Combine(dir.Path, "straight"), run = Path.Combine(dir.Path, "run");
        Assert.Equal(0, Run(Args(Tiny, "--steps", "60", "--out", straight)).Code);
        // Interrupted runs leave their last checkpoint mid-way; emulate with a 30-step budget checkpointed every 10, then extend.
        Assert.Equal(0, Run(Args(Tiny, "--steps", "30", "--checkpoint-every", "10", "--out", run)).Code);
        string tensors = Path.Combine(run, "checkpoints", "step-000000030", "tensors.safetensors");
        using (var fs = new FileStream(tensors, FileMode.Open)) fs.SetLength(fs.Length - 1);

        var (code, _, err) = Run("train", "--resume", run, "--steps", "60");
        Assert.True(code == 0, err);
        Assert.Contains($"warning: skipping a damaged checkpoint: {tensors}", err);
        Assert.Contains("from step 20 of 60", err);
        AssertSameResults(straight, run);

        foreach (var (_, path) in new CheckpointStore(Path.Combine(run, "checkpoints")).List())
            File.WriteAllText(Path.Combine(path, "state.json"), "{}");
        (code, _, err) = Run("train", "--resume", run, "--steps", "60");
        Assert.Equal(1, code);
        Assert.Contains("no loadable checkpoint", err);
        Assert.Contains(Path.Combine(run, "checkpoints", "step-000000060", "state.json"), err);
    }
}
