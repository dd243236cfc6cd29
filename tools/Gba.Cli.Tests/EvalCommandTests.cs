using System.Text.Json;
using GbaEngine.Cli;
using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba eval` in-process: on a run the CLI trained, on the same held-out rows, it reports the
/// run's own final metrics; bad input is one line with the documented exit code.</summary>
public class EvalCommandTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "gba-cli-eval-" + Guid.NewGuid().ToString("N"));

    public EvalCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, true);
    }

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    string WriteActivations(int rows, int d)
    {
        var model = new GbaEngine.Synthetic.SyntheticModel(new GbaEngine.Synthetic.SyntheticSpec(Features: 40, Dim: d, Sparsity: 2), 3);
        var x = new float[rows * d];
        model.OpenStream(1).NextBatch(x, rows);
        for (int i = 0; i < x.Length; i++) x[i] = x[i] * 5 + (i % d == 0 ? 2 : 0);    // a scale and an offset, as real activations have
        var file = Path.Combine(_dir, $"acts-{d}.npy");
        File.WriteAllBytes(file, TestFiles.Npy("<f4", [rows, d], TestFiles.Encode(x, GbaEngine.Formats.ActivationDType.F32)));
        return file;
    }

    [Theory]
    [InlineData("gba", "datasetscale")]
    [InlineData("topk", "datasetscale")]
    [InlineData("gba", "pertoken")]
    public void EvalOfAnExportedSaeReproducesTheTrainingSummary(string method, string normalize)
    {
        var data = WriteActivations(2000, 24);
        var run = Path.Combine(_dir, "run-" + method + normalize);
        var (code, _, err) = Run("train", "--data", data, "--method", method, "--k", "3", "--d-sae", "64", "--batch", "64", "--steps", "40",
            "--init-tokens", "512", "--buffer-tokens", "640", "--threads", "1", "--normalize", normalize, "--out", run, "--quiet",
            "--model-name", "toy", "--hook-name", "blocks.0.hook_resid_post");
        Assert.True(code == 0, err);
        using (var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "sae", "cfg.json"))))
            Assert.Equal("blocks.0.hook_resid_post", cfg.RootElement.GetProperty("metadata").GetProperty("hook_name").GetString());
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json")));

        // The run held out the last 200 rows (10% of 2,000); evaluate the exported SAE on those rows.
        var (evalCode, stdout, evalErr) = Run("eval", "--sae", Path.Combine(run, "sae"), "--data", data, "--eval-tokens", "200", "--threads", "2", "--json");
        Assert.True(evalCode == 0, evalErr);
        Assert.Contains("FVU", stdout);
        using var eval = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        var s = summary.RootElement;
        var e = eval.RootElement;
        Assert.Equal("gba_engine", e.GetProperty("layout").GetString());
        Assert.Equal(method == "topk" ? "topk" : "jumprelu", e.GetProperty("architecture").GetString());
        Assert.Equal(200, e.GetProperty("tokens").GetInt64());
        foreach (var key in new[] { "fvu", "mse" })
            Assert.Equal(s.GetProperty(key).GetDouble(), e.GetProperty(key).GetDouble(), 1e-4 * s.GetProperty(key).GetDouble());
        Assert.Equal(s.GetProperty("l0").GetDouble(), e.GetProperty("l0").GetDouble(), 2.0 / 200);
        Assert.Equal(s.GetProperty("dead_fraction").GetDouble(), e.GetProperty("dead_fraction").GetDouble(), 1.0 / 64);

        // The run directory itself is accepted too (its sae/ subdirectory is followed).
        var (runCode, runOut, _) = Run("eval", "--sae", run, "--data", data, "--eval-tokens", "200", "--threads", "1", "--json");
        Assert.Equal(0, runCode);
        using var again = JsonDocument.Parse(runOut.TrimEnd().Split('\n')[^1]);
        Assert.Equal(e.GetProperty("fvu").GetDouble(), again.RootElement.GetProperty("fvu").GetDouble());
    }

    [Fact]
    public void ABadSaePathIsOneLineAndExitCode1()
    {
        var data = WriteActivations(100, 8);
        var missing = Path.Combine(_dir, "no-such-sae");
        var (code, _, err) = Run("eval", "--sae", missing, "--data", data);
        Assert.Equal(1, code);
        Assert.Contains(missing, err);
        Assert.StartsWith("gba eval: ", err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void DataOfTheWrongWidthIsExitCode1()
    {
        var run = Path.Combine(_dir, "run");
        Assert.Equal(0, Run("train", "--data", WriteActivations(2000, 24), "--d-sae", "32", "--batch", "64", "--steps", "2", "--init-tokens", "256",
            "--threads", "1", "--out", run, "--quiet").Code);
        var (code, _, err) = Run("eval", "--sae", run, "--data", WriteActivations(100, 8));
        Assert.Equal(1, code);
        Assert.Contains("d = 8", err);
        Assert.Contains("d_in = 24", err);
    }

    [Theory]
    [InlineData("eval --data x.npy", "--sae DIR is required")]
    [InlineData("eval --sae somewhere", "--data PATH is required")]
    [InlineData("eval --sae somewhere --data x.npy --eval-tokens 0", "--eval-tokens")]
    [InlineData("eval --sae somewhere --data x.npy --bogus", "unknown option '--bogus'")]
    public void BadUsageIsExitCode2(string args, string message)
    {
        var (code, _, err) = Run(args.Split(' '));
        Assert.Equal(2, code);
        Assert.Contains(message, err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void HelpListsTheOptionsAndTheCommandIsInTheOverview()
    {
        var (code, stdout, _) = Run("eval", "--help");
        Assert.Equal(0, code);
        foreach (var option in new[] { "--sae", "--data", "--eval-tokens", "--threads", "--json" }) Assert.Contains(option, stdout);
        Assert.Contains("eval ", CliApp.HelpText);
    }
}
