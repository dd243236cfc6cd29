using GbaEngine.Tests.Activations;
using static GbaEngine.Cli.Tests.CliHarness;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// The exit codes docs/cli.md promises, command by command and error class by error class: 0 ok, 1 the work failed
/// (bad data, I/O, divergence), 2 bad usage (unknown options, bad values). Every failure is one line in
/// flag terms: no library names (TrainerOptions., LoaderOptions.), no "(Parameter '…')".
/// </summary>
public class ExitCodeTests
{
    const string Missing = "/nonexistent/gba-exit-code-test";

    public static TheoryData<string, int, string> Table => new()
    {
        // Usage: unknown commands and options, for every command.
        { "frobnicate", 2, "unknown command" },
        { "demo --bogus 1", 2, "--bogus" },
        { "train --bogus 1", 2, "--bogus" },
        { "inspect --bogus", 2, "--bogus" },
        { "synth --bogus 1", 2, "--bogus" },
        { "report --bogus", 2, "--bogus" },
        { "compare --bogus", 2, "--bogus" },
        { "sweep --bogus", 2, "--bogus" },
        { "eval --bogus 1", 2, "--bogus" },
        { "encode --bogus 1", 2, "--bogus" },
        { "experiment --bogus", 2, "--bogus" },
        { "experiment promise --steps 5", 2, "--steps and --methods apply to consistency and frontier only, not to promise" },
        { "experiment consistency --methods gba,foo", 2, "--methods: unknown method 'foo'" },
        // Usage: values out of range, named by their flag (the issue: these exited 1 in library words).
        { "train --batch -1 --steps 1", 2, "--batch must be at least 1 (got -1)" },
        { "train --d-sae 0 --steps 1", 2, "--d-sae must be at least 1 (got 0)" },
        { "train --threads 0 --steps 1", 2, "--threads must be at least 1 (got 0)" },
        { "train --steps -3", 2, "--steps must be at least 1" },
        { "train --tokens 0", 2, "--tokens must be at least 1 (got 0)" },
        { "train --lr -1 --steps 1", 2, "--lr must be finite and positive" },
        { "train --htf 0.001 --ltf 0.1 --steps 1", 2, "--htf and --ltf must satisfy" },
        { "train --steps 1 --eval-tokens 0", 2, "--eval-tokens must be at least 1" },
        { "demo --steps 1 --features 0", 2, "--features must be positive" },
        { "train --steps 1 --data x.npy --row-limit 0", 2, "--row-limit must be at least 1" },
        { "synth --out " + Missing + " --sparsity 0", 2, "--sparsity" },
        // The work failed: missing or unreadable input, for every command that reads some.
        { "train --steps 1 --data " + Missing + ".npy", 1, Missing },
        { "inspect " + Missing + ".npy", 1, Missing },
        { "report " + Missing, 1, Missing },
        { "compare " + Missing + " " + Missing + "2", 1, Missing },
        { "sweep summarize " + Missing, 1, Missing },
        { "eval --sae " + Missing + " --data " + Missing + ".npy", 1, Missing },
        { "encode --sae " + Missing + " --data " + Missing + ".npy --out " + Missing + ".safetensors", 1, Missing },
        // The work failed: training diverged (the issue: a System.Text.Json message, or exit 0 with FVU 9.7e20 / NaN).
        { "train " + CliHarness.Tiny + " --lr 1e10", 1, "diverged at step" },
        { "train " + CliHarness.Tiny + " --method l1 --lr 1e6", 1, "lower --lr (now 1E+06)" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void EveryCommandAndErrorClassHasItsExitCodeAndOneLineInFlagTerms(string args, int exit, string message)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.True(code == exit, $"exit {code}, expected {exit}: {err}");
        // A training run prints its header and progress first; the error is its last line, and the only one naming it.
        Assert.Contains(message, LastLine(err));
        if (!args.Contains(CliHarness.Tiny)) AssertOneLine(err);
        Assert.DoesNotContain("TrainerOptions.", err);
        Assert.DoesNotContain("LoaderOptions.", err);
        Assert.DoesNotContain("(Parameter '", err);
    }

    [Fact]
    public void OkIsZero() => Assert.Equal(0, Run(["train", .. TinyArgs, "--quiet"]).Code);

    [Fact]
    public void ADivergedRunWithOutStopsKeepsItsCheckpointsAndWritesNoResult()
    {
        using var t = new TempDir();
        var (code, stdout, err) = Run(["train", .. TinyArgs, "--lr", "1e10", "--out", t["run"], "--checkpoint-every", "1"]);
        Assert.Equal(1, code);
        Assert.Contains("diverged at step", err);
        Assert.DoesNotContain("FVU", stdout);                         // nothing summarised as a result
        Assert.False(File.Exists(t["run/summary.json"]));
        Assert.Contains("diverged at step", File.ReadAllText(t["run/error.txt"]));
        var step = int.Parse(System.Text.RegularExpressions.Regex.Match(err, @"diverged at step (\d+)").Groups[1].Value);
        var kept = new GbaEngine.Checkpoints.CheckpointStore(t["run/checkpoints"]).List();
        Assert.Equal(step - 1, kept.Max(k => k.Step));
        // The newest checkpoint is the step before the divergence, and it resumes (then diverges again at the same step).
        var (again, _, err2) = Run(["train", "--resume", t["run"], "--quiet"]);
        Assert.Equal(1, again);
        Assert.Contains($"diverged at step {step}", err2);
    }

    [Fact]
    public void LoaderErrorsNameTheFlagThatGetsPastThem()
    {
        using var t = new TempDir();
        var values = TestFiles.Values(64 * 4, GbaEngine.Formats.ActivationDType.F32, 1);
        values[5 * 4 + 1] = float.NaN;
        var nan = t.File("nan.npy", TestFiles.Npy("<f4", [64, 4], TestFiles.Encode(values, GbaEngine.Formats.ActivationDType.F32)));
        var raw = t.File("rows.bin", new byte[40]);
        var (code, _, err) = Run("train", "--steps", "1", "--data", raw);
        Assert.Equal(1, code);
        Assert.Contains("--dtype and --dim", err);
        Assert.DoesNotContain("LoaderOptions", err);
        (code, _, err) = Run("train", "--steps", "1", "--data", nan, "--eval-tokens", "4");
        Assert.Equal(1, code);
        Assert.Contains("--skip-nonfinite", err);
        Assert.DoesNotContain("LoaderOptions", err);
    }
}
