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
    static double D(JsonObject o, string key) => o[key]!.GetValue<double>();

    [Fact]
    public void RecoveryTrainedMethodsRecoverFarAboveChance()
    {
        var data = RunExperiment("recovery");
        double chance = D(data, "chance_frr_0_8");
        var runs = Runs(data).ToArray();
        Assert.Equal(8, runs.Length);
        Assert.All(runs, r => Assert.InRange(D(r, "dead_fraction"), 0, 1));
        // TopK and MP with k = T = s recover nearly everything; GBA's best setting recovers well above chance.
        Assert.All(runs.Where(r => (string)r["method"]! is "TopK" or "MP"), r => Assert.True(D(r, "frr_0_8") > 0.8, r.ToJsonString()));
        Assert.True(runs.Where(r => (string)r["method"]! == "GBA").Max(r => D(r, "frr_0_8")) > chance + 0.3);
    }

    [Fact]
    public void ResonanceBaRecoversNearTheTrueFrequencyAndNotFarAboveIt()
    {
        var runs = Runs(RunExperiment("resonance")).ToArray();
        double near = runs.Where(r => D(r, "ratio") <= 4).Max(r => D(r, "frr_0_8"));
        double far = runs.Where(r => D(r, "ratio") >= 16).Max(r => D(r, "frr_0_8"));
        Assert.True(near > far + 0.5, $"FRR@0.8 near f {near}, far above f {far}");
    }

    [Fact]
    public void FrequencyGbaWithCoveringTafsBeatsTopKWithTooLargeAK()
    {
        var runs = Runs(RunExperiment("frequency")).ToArray();
        double gba = runs.Where(r => (string)r["row"]! == "GBA covering").Max(r => D(r, "frr_0_8"));
        double topk50 = D(runs.Single(r => (string)r["row"]! == "TopK k=50"), "frr_0_8");
        Assert.True(gba > topk50, $"GBA covering {gba} vs TopK k=50 {topk50}");
    }

    [Fact]
    public void HeterogeneousDecilesAreReportedAndTheFrequentHalfIsRecoveredBest()
    {
        var runs = Runs(RunExperiment("heterogeneous")).ToArray();
        Assert.All(runs, r => Assert.Equal(10, r["frr_0_8_by_decile"]!.AsArray().Count));
        // MP's per-decile rates average to its overall FRR (deciles partition the features).
        var mp = runs.Single(r => (string)r["method"]! == "MP");
        Assert.Equal(D(mp, "frr_0_8"), mp["frr_0_8_by_decile"]!.AsArray().Average(v => v!.GetValue<double>()), 6);
        // A single target frequency (BA at 3x the median) cannot serve the rarest features as well as the common ones.
        var ba = runs.Single(r => (string)r["method"]! == "BA")["frr_0_8_by_decile"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        Assert.True(ba[..5].Average() >= ba[5..].Average(), string.Join(", ", ba));
    }

    [Fact]
    public void ConsistencyTrainedRunsAgreeAcrossSeedsFarMoreThanRandomDictionaries()
    {
        var data = RunExperiment("consistency");
        double chance = D(data, "chance_all_above_0_8");
        foreach (var method in new[] { "GBA", "BA", "TopK", "MP", "L1", "BatchTopK", "JumpReLU-L0" })
        {
            var rows = data[method]!.AsArray().Select(r => r!.AsObject()).ToArray();
            Assert.Equal(["all", "top 0.3%", "top 0.05%"], rows.Select(r => (string)r["subset"]!));
            Assert.All(rows, r => Assert.True(D(r, "above_0_6") >= D(r, "above_0_7") && D(r, "above_0_7") >= D(r, "above_0_8") && D(r, "above_0_8") >= D(r, "above_0_9")));
            Assert.True(D(rows[0], "above_0_6") > chance + 0.05, $"{method}: {rows[0].ToJsonString()} vs chance {chance}");
        }
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
    public void UnknownExperimentAndMissingNameAreUsageErrors()
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.Equal(2, CliApp.Run(["experiment", "nonsense"], o, e));
        Assert.Contains("unknown experiment 'nonsense'", e.ToString());
        Assert.Equal(2, CliApp.Run(["experiment"], o, new StringWriter()));
        Assert.Equal(2, CliApp.Run(["experiment", "recovery", "--size", "huge"], o, new StringWriter()));
        var list = new StringWriter();
        Assert.Equal(0, CliApp.Run(["experiment", "--list"], list, e));
        Assert.Equal(6, list.ToString().TrimEnd().Split('\n').Length);
    }
}
