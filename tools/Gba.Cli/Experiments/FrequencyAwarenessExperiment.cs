using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 3, frequency awareness: the paper's n = 128, d = 42 mixture (half the tokens with s = 3, half with s = 20,
/// so every feature has f = 11.5/128 ≈ 0.09). TopK must pick one k for both halves; GBA is run with its defaults, with
/// TAFs covering f and with TAFs wholly below it. Paper (FRR τ = 0.8 / 0.9): TopK k=20 100 / 98.4, k=30 98.4 / 24.2,
/// k=50 94.5 / 23.4; GBA covering 100 / 100; GBA missing 38.3 / 3.9. Over seeds, with learning curves.
/// </summary>
public sealed class FrequencyAwarenessExperiment : IExperiment
{
    public string Name => "frequency";
    public string Title => "3. Frequency awareness: the s = 3 / s = 20 mixture";

    /// <summary>The paper's rows: FRR@0.8 and @0.9 in percent.</summary>
    static readonly Dictionary<string, (double, double)> Paper = new()
    {
        ["TopK k=20"] = (100, 98.4), ["TopK k=30"] = (98.4, 24.2), ["TopK k=50"] = (94.5, 23.4),
        ["GBA covering"] = (100, 100), ["GBA missing"] = (38.3, 3.9),
    };

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = new SyntheticSpec(Features: 128, Dim: 42, Sparsity: 3, MixSparsity: 20, MixFraction: 0.5);
        int neurons = 512, batch = ctx.Pick(256, 512), seeds = ctx.Pick(1, 3);
        long gbaBudget = ctx.Pick(256L * 1500, 25_600_000), topkBudget = ctx.Pick(256L * 1500, 10_000_000);
        var problems = new SyntheticProblems(spec, ctx.Pick(4096, 16_384));
        double f = spec.MeanSparsity / spec.Features;
        var defaults = new TrainerOptions();
        var o = ExperimentRuns.Base(ctx, neurons, 1, batch, lr: defaults.LearningRate, initTokens: ctx.Pick(8192, 25_600));
        var ci = CultureInfo.InvariantCulture;
        (string Row, MethodSpec Method)[] rowsSpec =
        [
            ("GBA defaults", Methods.Gba(defaults.Groups, defaults.Htf, defaults.Ltf)),
            ("GBA covering", Methods.Gba(10, 0.5, 0.005)),
            ("GBA missing", Methods.Gba(10, 0.01, 0.001)),
            .. ctx.Pick(new[] { 3, 20, 50 }, new[] { 3, 5, 10, 20, 30, 50 }).Select(k => ($"TopK k={k}", Methods.TopK(k))),
        ];

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: synthetic n=128 d=42, half the tokens s=3 and half s=20; every feature has f = 11.5/128 = {f:G3}; one draw per seed. " +
            $"SAE: {ExperimentRuns.SaeForm}, M = {neurons}, batch {batch}, AdamW lr {defaults.LearningRate}, per-token normalisation (the default; TopK too). Budgets: " +
            $"{gbaBudget:N0} tokens for GBA ({gbaBudget / defaults.BufferTokens:N0} bias updates), {topkBudget:N0} for TopK. {seeds} seed(s) per row, " +
            $"cells median [min–max]. \"Covering\" TAF ranges contain f; the \"missing\" one (0.01 → 0.001) lies wholly below it."));
        report.Line();
        ctx.Log.WriteLine($"frequency: mixture n=128 d=42 s=3/20, M = {neurons}");

        var all = new List<(string Row, MethodRuns Runs)>();
        foreach (var (row, method) in rowsSpec)
        {
            long budget = method.Name == "GBA" ? gbaBudget : topkBudget;
            all.Add((row, ExperimentRuns.RunSeeds(ctx, $"{row} ({method.Setting})", method, o with { Tokens = budget }, seeds, problems.Data)));
        }
        report.Table(["row", "setting", "FRR@0.8 %", "FRR@0.9 %", "paper @0.8 / @0.9 %", "tokens to FRR@0.9 ≥ 0.9", "L0", "dead", "FVU"],
            all.Select(a => (IReadOnlyList<string>)[a.Row, a.Runs.Method.Setting, Percent(a.Runs.Final(m => m.Frr08)), Percent(a.Runs.Final(m => m.Frr09)),
                Paper.TryGetValue(a.Row, out var p) ? string.Create(ci, $"{p.Item1:F1} / {p.Item2:F1}") : "",
                MethodRuns.MillionsCell(a.Runs.TokensToRecovery()), a.Runs.Final(m => m.L0).Cell("F2"), a.Runs.Final(m => m.DeadFraction).Cell(),
                a.Runs.Final(m => m.Fvu).Cell()]));
        report.Data["frequency"] = f;
        report.Data["rows"] = new JsonArray(all.Select(a => { var j = a.Runs.ToJson(); j["row"] = a.Row; return (JsonNode)j; }).ToArray());

        report.Plot("curves", Svg.LinePlot(new PlotSpec("Mixture s=3/20: FRR@0.9 against tokens", "tokens", "FRR@0.9 (median over seeds)", LogX: true,
                Width: 700, Height: 420, YRange: (0, 1)), all.Select((a, i) => a.Runs.MedianCurve(m => m.Frr09, dashed: a.Row.StartsWith("TopK", StringComparison.Ordinal))).ToArray()),
            "Learning curves per row");
        var withPaper = all.Where(a => Paper.ContainsKey(a.Row)).ToArray();
        report.Plot("frr", Svg.Bars(new PlotSpec("Mixture s=3/20: ours vs the paper", "", "FRR", Width: 640, Height: 400, YRange: (0, 1)),
            withPaper.Select(a => a.Row).ToArray(),
            [("ours @0.8", withPaper.Select(a => a.Runs.Final(m => m.Frr08).Median).ToArray()),
             ("ours @0.9", withPaper.Select(a => a.Runs.Final(m => m.Frr09).Median).ToArray()),
             ("paper @0.8", withPaper.Select(a => Paper[a.Row].Item1 / 100).ToArray()),
             ("paper @0.9", withPaper.Select(a => Paper[a.Row].Item2 / 100).ToArray())]),
            "FRR per row with a paper figure, ours (median over seeds) next to the paper's");
        return report;
    }

    static string Percent(Spread s) => new Spread(100 * s.Median, 100 * s.Min, 100 * s.Max, s.Runs).Cell("F1");
}
