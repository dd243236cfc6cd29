using System.Text.Json;
using GbaEngine.Activations;
using GbaEngine.Cli;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba eval --ground-truth` (recovery of any loaded SAE) and `gba eval --mp-steps` (MP-SAEs at any T).</summary>
public class EvalExtrasTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "gba-eval-x-" + Guid.NewGuid().ToString("N"));
    readonly string _data, _truth;

    public EvalExtrasTests()
    {
        Directory.CreateDirectory(_dir);
        var model = new SyntheticModel(new SyntheticSpec(Features: 32, Dim: 16, Sparsity: 2), 7);
        var rows = new float[5000 * 16];
        model.OpenStream(1).NextBatch(rows, 5000);
        _data = Path.Combine(_dir, "acts.npy");
        File.WriteAllBytes(_data, TestFiles.Npy("<f4", [5000, 16], TestFiles.Encode(rows, ActivationDType.F32)));
        _truth = Path.Combine(_dir, "V.npy");
        File.WriteAllBytes(_truth, TestFiles.Npy("<f4", [32, 16], TestFiles.Encode(model.Features, ActivationDType.F32)));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]).RootElement;

    string Train(string name, params string[] extra)
    {
        var outDir = Path.Combine(_dir, name);
        var (code, _, err) = Run(["train", "--data", _data, "--ground-truth", _truth, "--d-sae", "64", "--batch", "64", "--steps", "150", "--lr", "3e-3",
            "--init-tokens", "1024", "--eval-tokens", "500", "--threads", "2", "--out", outDir, .. extra]);
        Assert.True(code == 0, err);
        return outDir;
    }

    [Fact]
    public void EvalOfAnExportedSaeReproducesTheTrainingRunsRecovery()
    {
        var run = Train("topk", "--method", "topk", "--k", "2");
        var evalOut = Path.Combine(_dir, "eval-topk");
        var (code, stdout, err) = Run("eval", "--sae", run, "--data", _data, "--eval-tokens", "500", "--ground-truth", _truth, "--out", evalOut, "--json");
        Assert.True(code == 0, err);
        Assert.Contains("FRR@0.8", stdout);
        using var trained = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "recovery.json")));
        using var evaluated = JsonDocument.Parse(File.ReadAllText(Path.Combine(evalOut, "recovery.json")));
        var a = trained.RootElement.GetProperty("best_cosine").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var b = evaluated.RootElement.GetProperty("best_cosine").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        Assert.Equal(32, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 4);     // exported rows are a·w/s: same directions
        Assert.True(LastJson(stdout).GetProperty("frr_0_8").GetDouble() > 0.5);
    }

    [Fact]
    public void AnMpSaeEvaluatesAtItsTrainedStepsAndAtAnyOther()
    {
        var run = Train("mp", "--method", "mp", "--mp-steps", "2", "--json");
        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json")));
        var fvu = new Dictionary<int, double>();
        foreach (int t in new[] { 1, 2, 6 })
        {
            var (code, stdout, err) = Run("eval", "--sae", run, "--data", _data, "--eval-tokens", "500", "--mp-steps", t.ToString(), "--ground-truth", _truth, "--json");
            Assert.True(code == 0, err);
            var json = LastJson(stdout);
            Assert.Equal("mp", json.GetProperty("architecture").GetString());
            Assert.True(json.GetProperty("l0").GetDouble() <= t);
            fvu[t] = json.GetProperty("fvu").GetDouble();
        }
        // The export round trip (atoms = renormalised W_dec, b_pre = s·b_dec) reproduces the run's own evaluation.
        Assert.Equal(summary.RootElement.GetProperty("fvu").GetDouble(), fvu[2], 4);
        Assert.True(fvu[1] > fvu[2] && fvu[2] > fvu[6], string.Join(", ", fvu));
        var (dflt, dfltOut, _) = Run("eval", "--sae", run, "--data", _data, "--eval-tokens", "500", "--json");
        Assert.Equal(0, dflt);
        Assert.Equal(2, LastJson(dfltOut).GetProperty("mp_steps").GetInt32());
    }

    [Fact]
    public void MisusedOptionsAreOneLineErrors()
    {
        var run = Train("gba");
        var (c1, _, e1) = Run("eval", "--sae", run, "--data", _data, "--mp-steps", "3");
        Assert.Equal(2, c1);
        Assert.Contains("not a matching-pursuit SAE", e1);
        var (c2, _, e2) = Run("eval", "--sae", run, "--data", _data, "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, c2);
        Assert.Contains("--ground-truth", e2);
        var narrow = Path.Combine(_dir, "narrow.npy");
        File.WriteAllBytes(narrow, TestFiles.Npy("<f4", [4, 15], TestFiles.Encode(Enumerable.Repeat(1f, 60).ToArray(), ActivationDType.F32)));
        var (c3, _, e3) = Run("eval", "--sae", run, "--data", _data, "--ground-truth", narrow);
        Assert.Equal(1, c3);
        Assert.Contains(narrow, e3);
        Assert.Single(e3.TrimEnd().Split('\n'));
    }
}
