using System.Text.Json.Nodes;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba sweep`, `gba train --sweep FILE --index I` and `gba sweep summarize`.</summary>
public class SweepTests
{
    const string Base = """
        "base": { "features": 32, "dim": 16, "sparsity": 2, "d_sae": 64, "batch": 64, "steps": 40, "init_tokens": 512,
                  "buffer_tokens": 640, "eval_tokens": 512, "threads": 1, "eval_every": 20 }
        """;

    static JsonObject Summary(string dir) => JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json")))!.AsObject();

    [Fact]
    public void FourPointsRunByIndexReproduceTheDirectRunsBitForBit()
    {
        using var t = new TempDir();
        File.WriteAllText(t["sweep.json"], "{" + Base + """, "grid": { "method": ["gba", "topk"], "seed": [1, 2] }, "out": "out" }""");
        var (code, stdout, err) = Run("sweep", t["sweep.json"], "--json");
        Assert.True(code == 0, err);
        Assert.Equal(4, JsonNode.Parse(LastLine(stdout))!["count"]!.GetValue<int>());
        Assert.StartsWith("4 runs", stdout);
        var runs = JsonNode.Parse(File.ReadAllText(t["out/runs.json"]))!["runs"]!.AsArray();
        Assert.Equal(["run-000", "run-001", "run-002", "run-003"], runs.Select(r => r!["dir"]!.GetValue<string>()));
        Assert.Equal("topk", runs[2]!["config"]!["method"]!.GetValue<string>());   // last axis fastest: (gba,1) (gba,2) (topk,1) (topk,2)
        Assert.Equal(2, runs[3]!["config"]!["seed"]!.GetValue<int>());

        var points = new[] { ("gba", "1"), ("gba", "2"), ("topk", "1"), ("topk", "2") };
        for (int i = 0; i < 4; i++)
        {
            var (c, _, e) = Run("train", "--sweep", t["sweep.json"], "--index", i.ToString(), "--quiet");
            Assert.True(c == 0, e);
            var (method, seed) = points[i];
            var (dc, _, de) = Run(["train", .. Tweak("--method", method, "--seed", seed, "--eval-every", "20"), "--out", t[$"direct{i}"], "--quiet"]);
            Assert.True(dc == 0, de);
            ConfigTests.AssertSameMetrics(Summary(t[$"direct{i}"]), Summary(t[$"out/run-00{i}"]));
            Assert.Equal(File.ReadAllText(t[$"direct{i}/metrics.jsonl"]).Split('\n').Select(StripSeconds), File.ReadAllText(t[$"out/run-00{i}/metrics.jsonl"]).Split('\n').Select(StripSeconds));
        }
        // The four runs differ from each other (the grid really varied something).
        Assert.Equal(4, Enumerable.Range(0, 4).Select(i => Summary(t[$"out/run-00{i}"])["fvu"]!.ToJsonString()).Distinct().Count());

        var (sc, csv, se) = Run("sweep", "summarize", t["out"]);
        Assert.True(sc == 0, se);
        var lines = csv.TrimEnd().Split('\n');
        Assert.Equal("index,run,method,seed,status,fvu,mse,l0,dead_fraction,frr_0_8,frr_0_9,tokens,seconds,tokens_per_second,error", lines[0]);
        Assert.Equal(5, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Contains(",ok,", l));
        Assert.Contains(Summary(t["out/run-003"])["fvu"]!.GetValue<double>().ToString("R", System.Globalization.CultureInfo.InvariantCulture), lines[4]);
    }

    static string StripSeconds(string line) => System.Text.RegularExpressions.Regex.Replace(line, "\"seconds\":[0-9.eE+-]+", "");

    [Fact]
    public void SummarizeMarksFailedIncompleteAndMissingRuns()
    {
        using var t = new TempDir();
        File.WriteAllText(t["s.json"], "{" + Base + """, "grid": { "d_sae": [64, 0, 32, 16] } }""");
        Assert.Equal(0, Run("sweep", t["s.json"], "--out", t["sw"]).Code);
        Assert.Equal(0, Run("train", "--sweep", t["s.json"], "--out", t["sw"], "--index", "0", "--quiet").Code);
        var (failed, _, ferr) = Run("train", "--sweep", t["s.json"], "--out", t["sw"], "--index", "1", "--quiet");
        Assert.Equal(2, failed);
        Assert.Contains("--d-sae must be at least 1", ferr);
        Directory.CreateDirectory(t["sw/run-002"]);   // started, never finished
        var (code, md, err) = Run("sweep", "summarize", t["sw"], "--format", "md");
        Assert.True(code == 0, err);
        var rows = md.TrimEnd().Split('\n');
        Assert.StartsWith("| index | run | d_sae | status |", rows[0]);
        Assert.Contains("| 0 | run-000 | 64 | ok |", rows[2]);
        Assert.Contains("| 1 | run-001 | 0 | failed |", rows[3]);
        Assert.Contains("--d-sae must be at least 1", rows[3]);
        Assert.Contains("| 2 | run-002 | 32 | incomplete |", rows[4]);
        Assert.Contains("| 3 | run-003 | 16 | missing |", rows[5]);

        var (jc, jout, _) = Run("sweep", "summarize", t["sw"], "--out", t["table.csv"], "--json");
        Assert.Equal(0, jc);
        Assert.Equal(5, File.ReadAllLines(t["table.csv"]).Length);
        var json = JsonNode.Parse(LastLine(jout))!;
        Assert.Equal((4, 1), (json["count"]!.GetValue<int>(), json["finished"]!.GetValue<int>()));
        Assert.Equal(["ok", "failed", "incomplete", "missing"], json["runs"]!.AsArray().Select(r => r!["status"]!.GetValue<string>()));
        Assert.Equal(Summary(t["sw/run-000"])["fvu"]!.GetValue<double>(), json["runs"]![0]!["fvu"]!.GetValue<double>());
        Assert.Null(json["runs"]![3]!["fvu"]);
    }

    [Fact]
    public void GridObjectsSetSeveralOptionsAndPathsResolveAgainstTheSweepFile()
    {
        using var t = new TempDir();
        File.WriteAllText(t["g.json"], """
            { "base": { "d_sae": 64, "steps": 10 },
              "grid": { "tafs": [{ "htf": 0.1, "ltf": 0.001 }, { "htf": 0.05, "ltf": 0.01 }], "data": [["a.npy"], ["sub/b.npy", "sub/c.npy"]] } }
            """);
        var (code, _, err) = Run("sweep", t["g.json"]);
        Assert.True(code == 0, err);
        var runs = JsonNode.Parse(File.ReadAllText(t["g/runs.json"]))!["runs"]!.AsArray();   // default directory: the file's name
        Assert.Equal(4, runs.Count);
        var p1 = runs[1]!;
        Assert.Equal(0.1, p1["config"]!["htf"]!.GetValue<double>());
        Assert.Equal([t["sub/b.npy"], t["sub/c.npy"]], p1["config"]!["data"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal("htf=0.1,ltf=0.001", p1["labels"]!["tafs"]!.GetValue<string>());
        Assert.Equal("b.npy+c.npy", p1["labels"]!["data"]!.GetValue<string>());
        Assert.Equal(0.01, runs[3]!["config"]!["ltf"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("""{ "grid": { "seed": [] } }""", "non-empty list")]
    [InlineData("""{ "grid": { "seed": 3 } }""", "non-empty list")]
    [InlineData("""{ "base": {}, "grid": {}, "extra": 1 }""", "unknown key 'extra'")]
    [InlineData("""{ "base": { "colour": 1 }, "grid": { "seed": [1] } }""", "unknown option 'colour'")]
    [InlineData("""{ "grid": { "colour": [1, 2] } }""", "unknown option 'colour'")]
    [InlineData("""{ "grid": { "tafs": [{ "htf": 0.1, "out": "x" }] } }""", "unknown option 'out'")]
    public void BadSweepFilesAreOneLineErrors(string content, string message)
    {
        using var t = new TempDir();
        File.WriteAllText(t["bad.json"], content);
        var (code, _, err) = Run("sweep", t["bad.json"]);
        Assert.Equal(1, code);
        Assert.Contains("bad.json", err);
        Assert.Contains(message, err);
        AssertOneLine(err);
    }

    [Fact]
    public void IndexErrorsAreUsageErrors()
    {
        using var t = new TempDir();
        File.WriteAllText(t["s.json"], "{" + Base + """, "grid": { "seed": [1, 2] } }""");
        foreach (var (args, message) in new[] { (new[] { "--index", "2" }, "out of range"), (["--index", "x"], "not a non-negative integer"), ([], "--index") })
        {
            var (code, _, err) = Run(["train", "--sweep", t["s.json"], .. args]);
            Assert.Equal(2, code);
            Assert.Contains(message, err);
            AssertOneLine(err);
        }
        Assert.Equal(2, Run("sweep").Code);
        Assert.Equal(2, Run("sweep", "summarize").Code);
        Assert.Equal(1, Run("sweep", "summarize", t["nowhere"]).Code);
        Assert.Equal(2, Run("sweep", "summarize", t.Path, "--format", "xml").Code);
    }

    [Fact]
    public void LocalRunSharesOneLoaderPassAndMatchesRunsByIndex()
    {
        using var t = new TempDir();
        Assert.Equal(0, Run("synth", "--out", t["syn"], "--tokens", "6000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet").Code);
        // Four points on one file with a fixed data seed (one shuffle for all): one loader pass.
        File.WriteAllText(t["s.json"], """
            { "base": { "data": ["syn/activations.npy"], "data_seed": 9, "d_sae": 64, "batch": 64, "steps": 30, "init_tokens": 512,
                        "buffer_tokens": 640, "threads": 1, "eval_every": 10 },
              "grid": { "method": ["gba", "ba"], "seed": [1, 2] } }
            """);
        var (code, stdout, err) = Run("sweep", "run", t["s.json"], "--out", t["local"], "--json");
        Assert.True(code == 0, err);
        Assert.Contains("run-000, run-001, run-002, run-003 share one loader pass", err);
        Assert.Contains($"{512 + 30 * 64:N0} rows read once for 4 run(s)", err);
        var json = JsonNode.Parse(LastLine(stdout))!;
        Assert.Equal(0, json["failed"]!.GetValue<int>());
        for (int i = 0; i < 4; i++)
        {
            var (c, _, e) = Run("train", "--sweep", t["s.json"], "--out", t["byindex"], "--index", i.ToString(), "--quiet");
            Assert.True(c == 0, e);
            ConfigTests.AssertSameMetrics(Summary(t[$"byindex/run-00{i}"]), Summary(t[$"local/run-00{i}"]));
            Assert.Equal(File.ReadAllText(t[$"byindex/run-00{i}/metrics.jsonl"]).Split('\n').Select(StripSeconds),
                File.ReadAllText(t[$"local/run-00{i}/metrics.jsonl"]).Split('\n').Select(StripSeconds));
            Assert.Equal(File.ReadAllBytes(t[$"byindex/run-00{i}/sae/sae_weights.safetensors"]), File.ReadAllBytes(t[$"local/run-00{i}/sae/sae_weights.safetensors"]));
        }

        // Different data seeds are different passes; --indices picks points; a failing point fails alone.
        File.WriteAllText(t["s2.json"], "{" + Base + """, "grid": { "data_seed": [1, 2], "d_sae": [64, 0] } }""");
        var (c2, out2, err2) = Run("sweep", "run", t["s2.json"], "--indices", "0-1,3");
        Assert.Equal(1, c2);
        Assert.Contains("run-000, run-001 share one loader pass", err2);
        Assert.Contains("run-003 share one loader pass", err2);
        Assert.Contains("run-000: ok", out2);
        Assert.Contains("run-001: failed: --d-sae must be at least 1", out2);
        Assert.DoesNotContain("run-002", out2);
        Assert.True(File.Exists(t["s2/run-001/error.txt"]));
        Assert.Equal(2, Run("sweep", "run", t["s2.json"], "--indices", "7").Code);
        Assert.Equal(2, Run("sweep", "run", t["s2.json"], "--max-parallel", "0").Code);
    }

    [Fact]
    public void AKilledSweepTaskResumesFromItsCheckpointWhenRunAgain()
    {
        using var t = new TempDir();
        File.WriteAllText(t["s.json"], """
            { "base": { "features": 32, "dim": 16, "sparsity": 2, "d_sae": 64, "batch": 64, "steps": 3000, "init_tokens": 512,
                        "buffer_tokens": 640, "eval_tokens": 512, "threads": 1, "eval_every": 500, "checkpoint_every": 100 },
              "grid": { "seed": [1, 2] } }
            """);
        // Kill the task once its first checkpoint exists, as a preempted cluster job would be.
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { typeof(GbaEngine.Cli.CliApp).Assembly.Location, "train", "--sweep", t["s.json"], "--index", "1", "--out", t["sw"], "--quiet" })
            psi.ArgumentList.Add(a);
        using (var p = System.Diagnostics.Process.Start(psi)!)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!p.HasExited && !(Directory.Exists(t["sw/run-001/checkpoints"]) && Directory.GetDirectories(t["sw/run-001/checkpoints"], "step-*").Length > 0)
                   && clock.Elapsed < TimeSpan.FromSeconds(60))
                Thread.Sleep(5);
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.False(File.Exists(t["sw/run-001/summary.json"]), "the task finished before it could be killed: make the run longer");

        var (code, _, err) = Run("train", "--sweep", t["s.json"], "--index", "1", "--out", t["sw"]);   // not --quiet: the note is the point
        Assert.True(code == 0, err);
        Assert.Contains("holds checkpoints of this sweep point: resuming it", err);
        Assert.Contains("resuming", err);
        var (sc, _, se) = Run(["train", .. Tweak("--steps", "3000", "--seed", "2", "--eval-every", "500"), "--out", t["straight"], "--quiet"]);
        Assert.True(sc == 0, se);
        ConfigTests.AssertSameMetrics(Summary(t["straight"]), Summary(t["sw/run-001"]));
    }

    [Fact]
    public void OutOfProcessSlurmArrayTaskIdPicksThePoint()
    {
        using var t = new TempDir();
        File.WriteAllText(t["s.json"], "{" + Base + """, "grid": { "seed": [1, 2] } }""");
        Assert.Equal(0, Exec(["sweep", t["s.json"]]).Code);
        var (code, stdout, err) = Exec(["train", "--sweep", t["s.json"], "--json", "--quiet"], new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "1" });
        Assert.True(code == 0, err);
        Assert.Equal(2, JsonNode.Parse(LastLine(stdout))!["seed"]!.GetValue<int>());
        Assert.True(File.Exists(t["s/run-001/summary.json"]));
        Assert.False(Directory.Exists(t["s/run-000"]));
        var (bad, _, badErr) = Exec(["train", "--sweep", t["s.json"]], new Dictionary<string, string> { ["SLURM_ARRAY_TASK_ID"] = "9" });
        Assert.Equal(2, bad);
        Assert.Contains("(SLURM_ARRAY_TASK_ID) is out of range", badErr);
        var (sc, csv, _) = Exec(["sweep", "summarize", t["s"]]);
        Assert.Equal(0, sc);
        Assert.Contains("run-000,1,missing", csv);
        Assert.Contains("run-001,2,ok", csv);
    }
}
