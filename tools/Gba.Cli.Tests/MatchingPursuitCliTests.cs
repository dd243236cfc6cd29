using System.Text.Json;
using GbaEngine.Cli;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba train --method mp --mp-steps T [--eval-mp-steps ...]`.</summary>
public class MatchingPursuitCliTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    const string Tiny = "train --features 32 --dim 16 --sparsity 2 --d-sae 64 --batch 64 --steps 60 --init-tokens 512 --eval-tokens 512 --threads 2";

    [Fact]
    public void MpTrainsReportsEachInferenceStepCountAndExportsItsDictionary()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-mp-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, err) = Run([.. Tiny.Split(' '), "--method", "mp", "--mp-steps", "2", "--eval-mp-steps", "1,2,6", "--out", dir, "--json"]);
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
            Assert.Equal("mp", doc.RootElement.GetProperty("method").GetString());
            Assert.InRange(doc.RootElement.GetProperty("l0").GetDouble(), 1, 2);
            var sweep = doc.RootElement.GetProperty("mp_steps_sweep").EnumerateArray().ToArray();
            Assert.Equal([1, 2, 6], sweep.Select(r => r.GetProperty("steps").GetInt32()));
            var fvu = sweep.Select(r => r.GetProperty("fvu").GetDouble()).ToArray();
            Assert.True(fvu[0] >= fvu[1] && fvu[1] >= fvu[2], string.Join(", ", fvu));
            Assert.Equal(doc.RootElement.GetProperty("fvu").GetDouble(), fvu[1], 9);   // T = 2 is the trained setting
            using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "sae", "cfg.json")));
            Assert.Equal("matching_pursuit", cfg.RootElement.GetProperty("architecture").GetString());   // SAELens' MP layout
            Assert.Equal(2, cfg.RootElement.GetProperty("max_iterations").GetInt32());
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    /// <summary>
    /// Regression (issue 12): neurons.json of an MP run came from the threshold encoder, so its
    /// frequencies summed to ~64 while the run's L0 was about 2. Every neuron statistic now runs the
    /// model's own encoder: the frequencies sum to the evaluated L0 (each code entry is one firing).
    /// </summary>
    [Fact]
    public void MpNeuronFrequenciesSumToTheEvaluatedL0()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-mp-neurons-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, stdout, err) = Run([.. Tiny.Split(' '), "--method", "mp", "--mp-steps", "3", "--out", dir, "--json"]);
            Assert.True(code == 0, err);
            using var summary = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
            double l0 = summary.RootElement.GetProperty("l0").GetDouble();
            Assert.InRange(l0, 1, 3);
            using var neurons = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "neurons.json")));
            Assert.Equal(512, neurons.RootElement.GetProperty("eval_tokens").GetInt32());
            double sum = neurons.RootElement.GetProperty("frequency").EnumerateArray().Sum(f => f.GetDouble());
            // Frequencies are stored as float32: equal to the L0 up to their rounding.
            Assert.Equal(l0, sum, 4);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("--method mp --untied", 2, "--untied")]
    [InlineData("--method mp --mp-steps 0", 2, "--mp-steps")]
    [InlineData("--method gba --eval-mp-steps 1,2", 2, "needs --method mp")]
    [InlineData("--method mp --eval-mp-steps 1,x", 2, "'x'")]
    public void BadMpSettingsAreOneLineErrors(string extra, int exit, string message)
    {
        var (code, _, err) = Run([.. Tiny.Split(' '), .. extra.Split(' ')]);
        Assert.Equal(exit, code);
        Assert.Contains(message, err);
        Assert.Single(err.TrimEnd().Split('\n'));
    }
}
