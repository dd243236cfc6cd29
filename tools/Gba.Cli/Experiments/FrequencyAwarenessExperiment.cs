using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 3, frequency awareness: the paper's n = 128, d = 42 mixture (half the tokens with s = 3,
/// half with s = 20, so every feature has f = 11.5/128 ≈ 0.09). TopK must pick one k for both
/// halves; GBA's groups need TAFs that cover the true frequency. Paper (FRR τ = 0.8 / 0.9):
/// TopK k=20 100 / 98.4, k=30 98.4 / 24.2, k=50 94.5 / 23.4; GBA covering 100 / 100; GBA missing 38.3 / 3.9.
/// </summary>
public sealed class FrequencyAwarenessExperiment : IExperiment
{
    public string Name => "frequency";
    public string Title => "3. Frequency awareness: the s = 3 / s = 20 mixture";

    /// <summary>The paper's rows: (method, setting, FRR@0.8, FRR@0.9) in percent, null where the paper has no row.</summary>
    static readonly Dictionary<string, (double, double)> Paper = new()
    {
        ["TopK k=20"] = (100, 98.4), ["TopK k=30"] = (98.4, 24.2), ["TopK k=50"] = (94.5, 23.4),
        ["GBA covering"] = (100, 100), ["GBA missing"] = (38.3, 3.9),
    };

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = new SyntheticSpec(Features: 128, Dim: 42, Sparsity: 3, MixSparsity: 20, MixFraction: 0.5);
        int neurons = 512, steps = ctx.Pick(1500, 10_000), batch = ctx.Pick(256, 512);
        var problem = new SyntheticProblem(spec, ctx.Seed, ctx.Pick(4096, 16_384));
        double f = problem.Frequency;
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: 3e-3, initTokens: ctx.Pick(8192, 25_600));
        var ci = CultureInfo.InvariantCulture;
        var runsSpec = new (string Key, MethodSpec Method)[]
        {
            ("TopK k=20", Methods.TopK(20)),
            ("TopK k=30", Methods.TopK(30)),
            ("TopK k=50", Methods.TopK(50)),
            ("GBA covering", Methods.Gba(10, 0.5, 0.005)),
            ("GBA covering", Methods.Gba(10, 0.1, 0.001)),
            ("GBA missing", Methods.Gba(10, 0.01, 0.001)),
        };

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: {problem.Describe()}; every feature has f = 11.5/128 = {f:G3}. SAE: tied, M = {neurons}, batch {batch}, {steps} steps, " +
            $"AdamW lr 3e-3, seed {ctx.Seed}; evaluation on {problem.Eval.Count:N0} held-out tokens. \"Covering\" TAF ranges contain f; the \"missing\" one (0.01 → 0.001) lies wholly below it."));
        report.Line();
        ctx.Log.WriteLine($"frequency: {problem.Describe()}, M = {neurons}, {steps} steps");

        var runs = new JsonArray();
        var rows = new List<IReadOnlyList<string>>();
        foreach (var (key, method) in runsSpec)
        {
            var r = ExperimentRuns.Train(ctx, $"{key}: {method.Label}", method.Configure(o), problem.Model.OpenStream(1), problem.Eval);
            var m = r.Final;
            var json = ExperimentRuns.Metrics(r, method.Name, method.Setting);
            json["row"] = key;
            runs.Add(json);
            var (p8, p9) = Paper[key];
            rows.Add([key, method.Setting, ExperimentReport.F(100 * (m.Frr08 ?? 0), "F1"), ExperimentReport.F(100 * (m.Frr09 ?? 0), "F1"),
                ExperimentReport.F(p8, "F1"), ExperimentReport.F(p9, "F1"), ExperimentReport.F(m.L0, "F2"), ExperimentReport.F(m.DeadFraction), ExperimentReport.F(m.Fvu)]);
        }
        report.Table(["row", "setting", "FRR@0.8 %", "FRR@0.9 %", "paper @0.8 %", "paper @0.9 %", "L0", "dead", "FVU"], rows);
        report.Data["frequency"] = f;
        report.Data["runs"] = runs;

        var labels = runsSpec.Select(r => r.Key.StartsWith("GBA", StringComparison.Ordinal) ? $"GBA {r.Method.Setting.Replace("K=10, TAF ", "")}" : r.Key).ToArray();
        double Get(int i, string k) => runs[i]![k]?.GetValue<double>() ?? double.NaN;
        report.Plot("frr", Svg.Bars(new PlotSpec("Mixture s=3/20: ours vs the paper", "", "FRR", Width: 640, Height: 400, YRange: (0, 1)), labels,
            [("ours @0.8", Enumerable.Range(0, runs.Count).Select(i => Get(i, "frr_0_8")).ToArray()),
             ("ours @0.9", Enumerable.Range(0, runs.Count).Select(i => Get(i, "frr_0_9")).ToArray()),
             ("paper @0.8", runsSpec.Select(r => Paper[r.Key].Item1 / 100).ToArray()),
             ("paper @0.9", runsSpec.Select(r => Paper[r.Key].Item2 / 100).ToArray())]),
            "FRR per setting, ours next to the paper's");
        return report;
    }
}
