using System.Text.RegularExpressions;
using GbaEngine.Cli.Options;
using GbaEngine.Kernels;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// The one option schema every command is declared in: help, parsing and checks derive from each command's
/// <see cref="OptionSchema"/>, so what help lists is exactly what the parser accepts; --kernels sets the kernel set
/// of the model a command builds, never the process's.
/// </summary>
public class OptionSchemaTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "gba-cli-schema-" + Guid.NewGuid().ToString("N"));

    public OptionSchemaTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    public static TheoryData<string> Commands() => [.. CliApp.Commands.Select(c => c.Schema.Command)];

    static OptionSchema SchemaOf(string command) => CliApp.Commands.Single(c => c.Schema.Command == command).Schema;

    [Theory]
    [MemberData(nameof(Commands))]
    public void HelpListsEveryDeclaredOptionAndTheTopLevelHelpTheCommand(string command)
    {
        var schema = SchemaOf(command);
        var (code, stdout, err) = CliHarness.Run(command, "--help");
        Assert.True(code == CliApp.Ok, err);
        Assert.StartsWith($"gba {command}: {schema.Summary}", stdout, StringComparison.Ordinal);
        foreach (var spec in schema.Options.Where(s => s.Group.Length > 0))
            Assert.Matches(new Regex($@"(?m)^  {Regex.Escape(spec.Usage)} "), stdout);
        Assert.Equal(stdout, CliHarness.Run(command, "-h").Out);
        Assert.Contains($"  {command} ", CliApp.HelpText, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void AnUndeclaredOptionIsOneUsageLineNamingIt(string command)
    {
        var (code, _, err) = CliHarness.Run(command, "--no-such-option", "1");
        Assert.Equal(CliApp.Usage, code);
        CliHarness.AssertOneLine(err);
        Assert.Contains("'--no-such-option'", err);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void AValueOptionWithoutItsValueIsAUsageError(string command)
    {
        var spec = SchemaOf(command).Options.First(s => s.Kind != OptionKind.Flag);
        var (code, _, err) = CliHarness.Run(command, spec.Flag);
        Assert.Equal(CliApp.Usage, code);
        Assert.Contains($"option {spec.Flag} needs a value", err);
    }

    [Theory]
    [InlineData("eval --sae s --data d --eval-tokens 0", "--eval-tokens must be at least 1 (got 0)")]
    [InlineData("eval --sae s --data d --threads 0", "--threads must be at least 1 (got 0)")]
    [InlineData("encode --sae s --data d --out c --batch 0", "--batch must be at least 1 (got 0)")]
    [InlineData("experiment recovery --seeds 0", "--seeds must be at least 1 (got 0)")]
    [InlineData("train --threads 0", "--threads must be at least 1 (got 0)")]
    [InlineData("eval --sae s --data d --kernels avx9", "--kernels 'avx9': expected scalar, avx2 or avx512")]
    [InlineData("eval --sae s --data d --hook h", "--hook goes with --model M.onnx")]
    [InlineData("eval --sae s --model m.onnx --data d", "--data evaluates on activation files")]
    [InlineData("eval --data d", "--sae DIR is required")]
    [InlineData("encode --sae s --data d", "--out FILE is required")]
    public void ChecksDerivedFromTheSchemaAreOneUsageLine(string args, string expected)
    {
        var (code, _, err) = CliHarness.Run(args.Split(' '));
        Assert.Equal(CliApp.Usage, code);
        CliHarness.AssertOneLine(err);
        Assert.Contains(expected, err);
    }

    [Fact]
    public void ReadingAnUndeclaredOptionOrDeclaringOneTwiceIsAProgrammingError()
    {
        var reader = SchemaOf("inspect").Read(["x.npy"]);
        Assert.Throws<InvalidOperationException>(() => reader.Has("--sae"));
        Assert.Throws<ArgumentException>(() => new OptionSchema("twice", "", [SharedOptions.Json, SharedOptions.Json]));
    }

    /// <summary>
    /// `gba eval --kernels scalar` and `gba encode --kernels scalar` in this process (default set: the best) give
    /// what a process started with GBA_KERNELS=scalar gives (metrics; the codes byte for byte), and leave the
    /// process default alone.
    /// </summary>
    [Fact]
    public void EvalAndEncodeKernelsArePerRunAndMatchTheEnvironmentDefault()
    {
        var data = Path.Combine(_dir, "syn");
        var (code, _, err) = CliHarness.Run("synth", "--out", data, "--tokens", "3000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet");
        Assert.True(code == 0, err);
        var acts = Path.Combine(data, "activations.npy");
        var run = Path.Combine(_dir, "run");
        (code, _, err) = CliHarness.Run("train", "--data", acts, "--d-sae", "64", "--batch", "64", "--steps", "40", "--init-tokens", "512",
            "--buffer-tokens", "640", "--eval-tokens", "512", "--threads", "1", "--out", run, "--quiet");
        Assert.True(code == 0, err);

        var before = KernelSelector.Current;
        var scalarEnv = new Dictionary<string, string> { ["GBA_KERNELS"] = "scalar" };
        static string Untimed(string stdout) => Regex.Replace(CliHarness.LastLine(stdout), "\"(seconds|tokens_per_second)\":[^,}]*,?", "");

        string[] eval = ["eval", "--sae", run, "--data", acts, "--threads", "2", "--json"];
        var inProcess = CliHarness.Run([.. eval, "--kernels", "scalar"]);
        Assert.True(inProcess.Code == 0, inProcess.Err);
        Assert.Equal(before, KernelSelector.Current);
        var child = CliHarness.Exec(eval, scalarEnv);
        Assert.True(child.Code == 0, child.Err);
        Assert.Equal(Untimed(child.Out), Untimed(inProcess.Out));
        Assert.Contains("\"kernels\":\"scalar\"", inProcess.Out);

        string[] Encode(string file) => ["encode", "--sae", run, "--data", acts, "--out", Path.Combine(_dir, file), "--threads", "2", "--quiet"];
        (code, _, err) = CliHarness.Run([.. Encode("in-process.safetensors"), "--kernels", "scalar"]);
        Assert.True(code == 0, err);
        Assert.Equal(before, KernelSelector.Current);
        var encoded = CliHarness.Exec(Encode("child.safetensors"), scalarEnv);
        Assert.True(encoded.Code == 0, encoded.Err);
        Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "child.safetensors")), File.ReadAllBytes(Path.Combine(_dir, "in-process.safetensors")));
    }
}
