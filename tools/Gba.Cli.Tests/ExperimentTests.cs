using System.Text.Json.Nodes;
using System.Xml.Linq;
using GbaEngine.Cli;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// Every `gba experiment` at --size small: the files it writes (markdown table, well-formed SVG plots,
/// JSON numbers) and the DIRECTION of its result, never exact numbers.
/// </summary>
public class ExperimentTests
{
    static JsonObject RunExperiment(string name)
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-exp-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (o, e) = (new StringWriter(), new StringWriter());
            int code = CliApp.Run(["experiment", name, "--size", "small", "--out", dir, "--threads", "2"], o, e);
            Assert.True(code == 0, e.ToString());
            var md = File.ReadAllText(Path.Combine(dir, name + ".md"));
            Assert.Contains("|---|", md);
            Assert.Contains($"gba experiment {name} --size small", md);
            var svgs = Directory.GetFiles(dir, name + "-*.svg");
            Assert.NotEmpty(svgs);
            foreach (var svg in svgs)
            {
                var doc = XDocument.Load(svg);     // well-formed XML or it throws
                Assert.Equal("svg", doc.Root!.Name.LocalName);
                Assert.Contains($"]({Path.GetFileName(svg)})", md);
                Assert.DoesNotContain("NaN", File.ReadAllText(svg));
            }
            return JsonNode.Parse(File.ReadAllText(Path.Combine(dir, name + ".json")))!.AsObject();
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    static IEnumerable<JsonObject> Runs(JsonObject data) => data["runs"]!.AsArray().Select(r => r!.AsObject());
    static IEnumerable<JsonObject> Items(JsonObject data, string key) => data[key]!.AsArray().Select(r => r!.AsObject());
    static double D(JsonObject o, string key) => o[key]!.GetValue<double>();
    /// <summary>The median over seeds of a final metric of a method's runs.</summary>
    static double Median(JsonObject method, string key) => method[key]!["median"]!.GetValue<double>();

    static void EveryRunHasALearningCurve(JsonObject method) =>
        Assert.All(method["runs"]!.AsArray(), r => Assert.True(r!["curve"]!.AsArray().Count >= 8, r.ToJsonString()));

    [Fact]
    public void PromiseDefaultGbaRecoversOnEverySeedAndThreadCountWithoutBeingToldS()
    {
        var problem = Items(RunExperiment("promise"), "problems").Single();
        var methods = Items(problem, "methods").ToArray();
        var gba = methods.Single(m => (string)m["method"]! == "GBA");
        EveryRunHasALearningCurve(gba);
        Assert.Equal(4, gba["runs"]!.AsArray().Count);                 // 2 seeds x threads 1, 2
        Assert.All(gba["runs"]!.AsArray(), r => Assert.True(D(r!.AsObject(), "frr_0_9") >= 0.9, r.ToJsonString()));
        Assert.Equal(3, methods.Count(m => (string)m["method"]! == "TopK"));
    }

    [Fact]
    public void RecoveryTrainedMethodsRecoverFarAboveChance()
    {
        var data = RunExperiment("recovery");
        double chance = D(data, "chance_frr_0_8");
        var methods = Items(data, "methods").ToArray();
        Assert.Equal(9, methods.Length);
        foreach (var m in methods) EveryRunHasALearningCurve(m);
        Assert.All(methods, m => Assert.InRange(Median(m, "dead_fraction"), 0, 1));
        // TopK and MP with k = T = s recover nearly everything; GBA with its defaults recovers well above chance, and above
        // the earlier defaults (quantile start, dataset scale: the first row; the paper-literal zero start is the second).
        Assert.All(methods.Where(m => (string)m["method"]! is "TopK" or "MP"), m => Assert.True(Median(m, "frr_0_8") > 0.8, m.ToJsonString()));
        var gba = methods.Single(m => (string)m["setting"]! == "K=10, TAF 0.1→0.001");
        Assert.True(Median(gba, "frr_0_8") > chance + 0.3, gba.ToJsonString());
        Assert.True(Median(gba, "frr_0_9") > Median(methods[0], "frr_0_9"));
    }

    [Fact]
    public void ResonanceTheEdgeStartIsInsensitiveToPAndTheQuantileStartIsNot()
    {
        var runs = Runs(RunExperiment("resonance")).ToArray();
        // From the edge start the TAF only bounds a neuron from above: p from f/2 to 32 f all recover.
        Assert.All(runs.Where(r => (string)r["start"]! == "edge"), r => Assert.True(Median(r, "frr_0_8") > 0.8, r.ToJsonString()));
        // From the quantile start neurons fire at p from the first step: far above f they learn mixtures.
        var quantile = runs.Where(r => (string)r["start"]! == "quantile").ToArray();
        double near = quantile.Where(r => D(r, "ratio") <= 4).Max(r => Median(r, "frr_0_8"));
        double far = quantile.Where(r => D(r, "ratio") >= 16).Max(r => Median(r, "frr_0_8"));
        Assert.True(near > far + 0.5, $"FRR@0.8 near f {near}, far above f {far}");
    }

    [Fact]
    public void FrequencyGbaBeatsTopKWithTooLargeAK()
    {
        var rows = Items(RunExperiment("frequency"), "rows").ToArray();
        double gba = Median(rows.Single(r => (string)r["row"]! == "GBA defaults"), "frr_0_8");
        double topk50 = Median(rows.Single(r => (string)r["row"]! == "TopK k=50"), "frr_0_8");
        Assert.True(gba > topk50, $"GBA defaults {gba} vs TopK k=50 {topk50}");
    }

    [Fact]
    public void HeterogeneousDecilesAreReportedAndTheFrequentHalfIsRecoveredBest()
    {
        var methods = Items(RunExperiment("heterogeneous"), "methods").ToArray();
        Assert.All(methods, m => Assert.Equal(10, m["frr_0_8_by_decile"]!.AsArray().Count));
        // With one seed the per-decile rates of MP average to its overall FRR (deciles partition the features).
        var mp = methods.Single(m => (string)m["method"]! == "MP");
        Assert.Equal(Median(mp, "frr_0_8"), mp["frr_0_8_by_decile"]!.AsArray().Average(v => v!.GetValue<double>()), 6);
        // A single target frequency (BA at 3x the median) cannot serve the rarest features as well as the common ones.
        var ba = methods.Single(m => (string)m["method"]! == "BA")["frr_0_8_by_decile"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        Assert.True(ba[..5].Average() >= ba[5..].Average(), string.Join(", ", ba));
    }

    [Fact]
    public void ConsistencyTrainedRunsAgreeAcrossSeedsFarMoreThanRandomDictionaries()
    {
        var data = RunExperiment("consistency");
        foreach (var method in new[] { "GBA", "BA", "TopK", "MP", "L1", "BatchTopK", "JumpReLU-L0" })
        {
            var rows = data[method]!.AsArray().Select(r => r!.AsObject()).ToArray();
            Assert.Equal(9, rows.Length);
            Assert.Equal("all", (string)rows[0]["subset"]!);
            Assert.Contains(rows, r => (string)r["subset"]! == "top 5% by Z-score");
            Assert.Contains(rows, r => (string)r["subset"]! == "top 0.3% by max activation");
            Assert.All(rows, r => Assert.True(D(r, "above_0_6") >= D(r, "above_0_7") && D(r, "above_0_7") >= D(r, "above_0_8") && D(r, "above_0_8") >= D(r, "above_0_9")));
            // Chance: random directions matched against the same trained runs.
            double chance = D(data[method + " chance"]!.AsObject(), "above_0_6");
            Assert.True(D(rows[0], "above_0_6") > chance + 0.02, $"{method}: {rows[0].ToJsonString()} vs chance {chance}");
        }
    }

    [Fact]
    public void RealDataExperimentsTakeTheirStepsAndMethodsFromTheCommandLine()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-exp-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (o, e) = (new StringWriter(), new StringWriter());
            int code = CliApp.Run(["experiment", "frontier", "--size", "small", "--steps", "24", "--methods", "topk,gba", "--out", dir, "--threads", "2"], o, e);
            Assert.True(code == 0, e.ToString());
            var data = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "frontier.json")))!.AsObject();
            var runs = Runs(data).ToArray();
            Assert.Equal(["GBA", "TopK"], runs.Select(r => (string)r["method"]!).Distinct().Order());
            Assert.All(runs, r => Assert.Equal(24 * 256, r["tokens"]!.GetValue<long>()));
            Assert.All(runs, r => Assert.NotEmpty(r["curve"]!.AsArray()));
            Assert.Contains("--steps 24 --methods topk,gba", File.ReadAllText(Path.Combine(dir, "frontier.md")));
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void FrontierMoreActiveNeuronsExplainMore()
    {
        var runs = Runs(RunExperiment("frontier")).ToArray();
        JsonObject One(string method, string setting) => runs.Single(r => (string)r["method"]! == method && ((string)r["setting"]!).StartsWith(setting, StringComparison.Ordinal));
        Assert.True(D(One("TopK", "k=32"), "fvu") < D(One("TopK", "k=8"), "fvu"));
        Assert.True(D(One("BA", "p=0.05"), "fraction_active") > D(One("BA", "p=0.01"), "fraction_active"));
        Assert.True(D(One("L1", "λ=0.1"), "fraction_active") < D(One("L1", "λ=0.03"), "fraction_active"));   // a larger penalty is sparser
        var mp = runs.Where(r => (string)r["method"]! == "MP").OrderBy(r => D(r, "inference_steps")).Select(r => D(r, "fvu")).ToArray();
        Assert.Equal(3, mp.Length);
        Assert.True(mp[0] > mp[1] && mp[1] > mp[2], string.Join(", ", mp));
        Assert.Single(runs, r => (string)r["method"]! == "GBA");
    }

    [Fact]
    public void AblationTheDefaultsRecoverAndTheEarlierDefaultsDoNot()
    {
        var rows = Items(RunExperiment("ablation"), "rows").ToArray();
        Assert.Equal(11, rows.Length);
        double Frr(string setting) => Median(rows.Single(r => (string)r["setting"]! == setting), "frr_0_9");
        Assert.True(Frr("defaults") >= 0.9, rows[0].ToJsonString());
        Assert.True(Frr("defaults") > Frr("earlier defaults (quantile start, dataset scale)") + 0.5);
    }

    [Fact]
    public void UnknownExperimentAndMissingNameAreUsageErrors()
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.Equal(2, CliApp.Run(["experiment", "nonsense"], o, e));
        Assert.Contains("unknown experiment 'nonsense'", e.ToString());
        Assert.Equal(2, CliApp.Run(["experiment"], o, new StringWriter()));
        Assert.Equal(2, CliApp.Run(["experiment", "recovery", "--size", "huge"], o, new StringWriter()));
        var list = new StringWriter();
        Assert.Equal(0, CliApp.Run(["experiment", "--list"], list, e));
        Assert.Equal(8, list.ToString().TrimEnd().Split('\n').Length);
    }
}
