using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Evaluation;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 4, heterogeneous frequencies: features occur with a power-law profile f_i ∝ (i+1)^−α
/// (s on average per token), so no single target frequency or k fits all of them. FRR@0.8 per
/// frequency decile shows which part of the spectrum each method recovers.
/// </summary>
public sealed class HeterogeneousExperiment : IExperiment
{
    public const int Deciles = 10;

    public string Name => "heterogeneous";
    public string Title => "4. Heterogeneous frequencies: recovery by frequency decile";

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = ctx.Pick(new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3, Profile: FrequencyProfile.PowerLaw, Exponent: 1.0),
            new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3, Profile: FrequencyProfile.PowerLaw, Exponent: 1.0));
        int neurons = 4 * spec.Features, batch = ctx.Pick(256, 512), seeds = ctx.Pick(1, 2);
        long biasBudget = ctx.Pick(256L * 1500, 12_800_000), otherBudget = ctx.Pick(256L * 1500, 6_400_000);
        var problems = new SyntheticProblems(spec, ctx.Pick(4096, 16_384));
        var freq = problems.Get(ctx.Seed).Model.Frequencies;
        double median = freq.OrderBy(x => x).ElementAt(freq.Length / 2);
        var defaults = new TrainerOptions();
        var hints = new MethodHints(K: spec.Sparsity, BaTaf: 3 * median, Groups: defaults.Groups, Htf: defaults.Htf, Ltf: defaults.Ltf, L1: 0.3);
        var methods = Methods.All(hints).Prepend(RecoveryExperiment.GbaEarlierDefaults(defaults.Groups, defaults.Htf, defaults.Ltf)).ToArray();
        var o = ExperimentRuns.Base(ctx, neurons, 1, batch, lr: defaults.LearningRate, initTokens: ctx.Pick(8192, 25_600));
        var ci = CultureInfo.InvariantCulture;

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: synthetic n={spec.Features} d={spec.Dim}, power-law frequencies (α = 1, s = {spec.Sparsity} on average) from {freq.Max():G3} " +
            $"down to {freq.Min():G3} (median {median:G3}); one draw per seed. SAE: {ExperimentRuns.SaeForm}, M = {neurons}, batch {batch}, AdamW lr {defaults.LearningRate}, per-token " +
            $"normalisation. Budgets: {biasBudget:N0} tokens for GBA and BA ({biasBudget / defaults.BufferTokens:N0} bias updates), {otherBudget:N0} for the others; " +
            $"{seeds} seed(s), cells median [min–max]. BA's p is 3× the median frequency, TopK's k and MP's T the mean s. Decile 1 holds the most frequent 10% of the features."));
        report.Line();
        ctx.Log.WriteLine($"heterogeneous: power law n={spec.Features} d={spec.Dim}, M = {neurons}");

        var all = new List<MethodRuns>();
        var perMethod = new List<double[]>();
        foreach (var method in methods)
        {
            long budget = method.Name is "GBA" or "BA" ? biasBudget : otherBudget;
            var runs = ExperimentRuns.RunSeeds(ctx, $"{method.Name} ({method.Setting})", method, o with { Tokens = budget }, seeds, problems.Data);
            all.Add(runs);
            // FRR@0.8 per frequency decile of each run's own problem, then the median over runs.
            var byRun = runs.Runs.Select(r => ByDecile(problems.Get(r.Seed).Model.Frequencies, r.Result.Final.BestCosines!)).ToArray();
            perMethod.Add(Enumerable.Range(0, Deciles).Select(k => Spread.Of(byRun.Select(v => v[k])).Median).ToArray());
        }

        var order = Enumerable.Range(0, freq.Length).OrderByDescending(i => freq[i]).ToArray();
        int[][] decile = Enumerable.Range(0, Deciles).Select(k => order[(k * freq.Length / Deciles)..((k + 1) * freq.Length / Deciles)]).ToArray();
        string Short(MethodRuns r, int i) => i == 0 ? "GBA earlier" : r.Method.Name;
        report.Line("FRR@0.8 per frequency decile (median over seeds; f range of the first seed's problem):");
        report.Line();
        report.Table(["decile", "f range", .. all.Select(Short)],
            Enumerable.Range(0, Deciles).Select(k => (IReadOnlyList<string>)[
                (k + 1).ToString(ci),
                string.Create(ci, $"{freq[decile[k][^1]]:G2} - {freq[decile[k][0]]:G2}"),
                .. perMethod.Select(v => ExperimentReport.F(v[k], "F2"))]));
        report.Line("Overall:");
        report.Line();
        report.Table(["method", "setting", "FRR@0.8", "FRR@0.9", "tokens to FRR@0.9 ≥ 0.9", "dead", "L0", "FVU"],
            all.Select(r => (IReadOnlyList<string>)[r.Method.Name, r.Method.Setting, r.Final(m => m.Frr08).Cell(), r.Final(m => m.Frr09).Cell(),
                MethodRuns.MillionsCell(r.TokensToRecovery()), r.Final(m => m.DeadFraction).Cell(), r.Final(m => m.L0).Cell("F2"), r.Final(m => m.Fvu).Cell()]));
        report.Data["decile_mean_frequency"] = new JsonArray(decile.Select(ids => (JsonNode)ids.Average(i => freq[i])).ToArray());
        report.Data["methods"] = new JsonArray(all.Select((r, i) =>
        {
            var j = r.ToJson();
            j["frr_0_8_by_decile"] = new JsonArray(perMethod[i].Select(v => (JsonNode)v).ToArray());
            return (JsonNode)j;
        }).ToArray());

        var xs = decile.Select(ids => ids.Average(i => freq[i])).ToArray();
        report.Plot("deciles", Svg.LinePlot(new PlotSpec("FRR@0.8 by feature frequency (power law)", "mean frequency of the decile", "FRR@0.8", LogX: true, Width: 640, Height: 400, YRange: (0, 1)),
            all.Select((r, i) => Series.From(Short(r, i), xs.Zip(perMethod[i]).ToArray())).ToArray()),
            "FRR@0.8 per frequency decile and method (median over seeds)");
        report.Plot("curves", Svg.LinePlot(new PlotSpec("Power law: FRR@0.9 against tokens", "tokens", "FRR@0.9 (median over seeds)", LogX: true, Width: 700, Height: 420, YRange: (0, 1)),
            all.Select((r, i) => r.MedianCurve(m => m.Frr09, dashed: i == 0)).ToArray()),
            "Learning curves per method");
        return report;
    }

    /// <summary>FRR@0.8 within each decile of the features ranked by frequency, most frequent first.</summary>
    static double[] ByDecile(double[] freq, float[] best)
    {
        var order = Enumerable.Range(0, freq.Length).OrderByDescending(i => freq[i]).ToArray();
        return Enumerable.Range(0, Deciles)
            .Select(k => FeatureRecovery.Rate(order[(k * freq.Length / Deciles)..((k + 1) * freq.Length / Deciles)].Select(i => best[i]).ToArray(), 0.8)).ToArray();
    }
}
