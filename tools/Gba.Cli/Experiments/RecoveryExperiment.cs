using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 1: FRR@0.8/0.9, dead fraction, FVU and L0 of every method on the paper's uniform model (unit Gaussian
/// features, s per token, f = s/n, M = 4n), over seeds, with learning curves. GBA runs with its defaults (K = 10,
/// TAFs 0.1 → 0.001) and with the earlier defaults (quantile start, dataset scale) for comparison. The methods with a
/// bias rule get at least 1,000 bias updates; the others a budget at which their curves have long flattened.
/// </summary>
public sealed class RecoveryExperiment : IExperiment
{
    public string Name => "recovery";
    public string Title => "1. Feature recovery on the uniform statistical model";

    /// <summary>The earlier defaults (GBA of the first release): each neuron starts at its TAF's quantile, dataset scale.</summary>
    public static MethodSpec GbaEarlierDefaults(int groups, double htf, double ltf)
    {
        var gba = Methods.Gba(groups, htf, ltf);
        return new(gba.Name, gba.Setting + ", quantile start, dataset scale", o => gba.Configure(o) with
        {
            BiasInit = BiasInitialization.Quantile, Normalization = InputNormalization.DatasetScale,
        });
    }

    /// <summary>The paper-literal start: b = 0, every neuron firing on about half the tokens at first.</summary>
    public static MethodSpec GbaZeroStart(int groups, double htf, double ltf)
    {
        var gba = Methods.Gba(groups, htf, ltf);
        return new(gba.Name, gba.Setting + ", zero start (paper-literal)", o => gba.Configure(o) with { BiasInit = BiasInitialization.Zero });
    }

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = ctx.Pick(new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3), new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3));
        int neurons = 4 * spec.Features, batch = ctx.Pick(256, 512), seeds = ctx.Pick(1, 3);
        long biasBudget = ctx.Pick(256L * 1500, 25_600_000), otherBudget = ctx.Pick(256L * 1500, 6_400_000);
        var problems = new SyntheticProblems(spec, ctx.Pick(4096, 16_384));
        double f = spec.MeanSparsity / spec.Features;
        var defaults = new TrainerOptions();
        // L1's λ = 0.3: on this model 0.1 leaves L0 near 40 (calibration at the small size).
        var hints = new MethodHints(K: spec.Sparsity, BaTaf: 3 * f, Groups: defaults.Groups, Htf: defaults.Htf, Ltf: defaults.Ltf, L1: 0.3);
        var methods = Methods.All(hints).Prepend(GbaZeroStart(defaults.Groups, defaults.Htf, defaults.Ltf))
            .Prepend(GbaEarlierDefaults(defaults.Groups, defaults.Htf, defaults.Ltf)).ToArray();
        var o = ExperimentRuns.Base(ctx, neurons, 1, batch, lr: defaults.LearningRate, initTokens: ctx.Pick(8192, 25_600));

        var report = new ExperimentReport(Name, Title);
        var ci = CultureInfo.InvariantCulture;
        report.Line(string.Create(ci, $"Data: synthetic n={spec.Features} d={spec.Dim} s={spec.Sparsity}, magnitudes U(0.5, 1.5); f = s/n = {f:G3}; one draw per seed. " +
            $"SAE: {ExperimentRuns.SaeForm}, M = {neurons} (4n), batch {batch}, AdamW lr {defaults.LearningRate}, the trainer's defaults otherwise (per-token normalisation). " +
            $"Budgets: {biasBudget:N0} tokens for GBA and BA ({biasBudget / defaults.BufferTokens:N0} bias updates), {otherBudget:N0} for the others. " +
            $"{seeds} seed(s) per method; cells are median [min–max]; evaluation on {problems.Get(ctx.Seed).Eval.Count:N0} held-out tokens per seed."));
        report.Line();
        ctx.Log.WriteLine($"recovery: n={spec.Features} d={spec.Dim} s={spec.Sparsity}, M = {neurons}");

        var all = new List<MethodRuns>();
        foreach (var method in methods)
        {
            long budget = method.Name is "GBA" or "BA" ? biasBudget : otherBudget;
            all.Add(ExperimentRuns.RunSeeds(ctx, $"{method.Name} ({method.Setting})", method, o with { Tokens = budget }, seeds, problems.Data));
        }
        var (chance8, chance9) = ExperimentRuns.ChanceRecovery(problems.Get(ctx.Seed), neurons, ctx.Seed, ctx.Kernels);
        var rows = all.Select(r => (IReadOnlyList<string>)[r.Method.Name, r.Method.Setting, r.Final(m => m.Frr08).Cell(), r.Final(m => m.Frr09).Cell(),
            MethodRuns.MillionsCell(r.TokensToRecovery()), r.Final(m => m.DeadFraction).Cell(), r.Final(m => m.Fvu).Cell(), r.Final(m => m.L0).Cell("F2"),
            MethodRuns.Millions(r.Runs[0].Result.Tokens)]).ToList();
        rows.Add(["untrained", "M random Gaussian directions", ExperimentReport.F(chance8), ExperimentReport.F(chance9), "", "", "", "", ""]);
        report.Table(["method", "setting", "FRR@0.8", "FRR@0.9", "tokens to FRR@0.9 ≥ 0.9", "dead fraction", "FVU", "L0", "budget"], rows);
        report.Data["frequency"] = f;
        report.Data["chance_frr_0_8"] = chance8;
        report.Data["methods"] = new JsonArray(all.Select(r => (JsonNode)r.ToJson()).ToArray());

        report.Plot("curves", Svg.LinePlot(new PlotSpec("FRR@0.9 against tokens, uniform model", "tokens", "FRR@0.9 (median over seeds)", LogX: true,
                Width: 700, Height: 420, YRange: (0, 1)), all.Select((r, i) => r.MedianCurve(m => m.Frr09, dashed: i < 2)).ToArray()),
            "Learning curves: median FRR@0.9 over seeds per method");
        report.Plot("frr", Svg.Bars(new PlotSpec("Feature recovery at the end of the budget, uniform model", "", "fraction (median)", Width: 700, Height: 400, YRange: (0, 1)),
            all.Select((r, i) => i == 0 ? "GBA (earlier defaults)" : i == 1 ? "GBA (zero start)" : r.Method.Name).ToArray(),
            [("FRR@0.8", all.Select(r => r.Final(m => m.Frr08).Median).ToArray()),
             ("FRR@0.9", all.Select(r => r.Final(m => m.Frr09).Median).ToArray()),
             ("dead fraction", all.Select(r => r.Final(m => m.DeadFraction).Median).ToArray())]),
            "FRR@0.8, FRR@0.9 and dead fraction per method (medians over seeds)");
        return report;
    }
}
