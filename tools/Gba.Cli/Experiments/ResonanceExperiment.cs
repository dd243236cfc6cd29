using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 2, "neuron resonance": BA's FRR as its target frequency p sweeps across the true feature frequency f on
/// the uniform model, from two starts. From the quantile start each neuron begins firing at p, as the paper's neurons
/// do once their biases have come down from 0: the paper finds recovery needs p about 2-4× f. From the edge start (the
/// default) each neuron begins at the edge of its own pre-activations, and the TAF only bounds it from above.
/// </summary>
public sealed class ResonanceExperiment : IExperiment
{
    public string Name => "resonance";
    public string Title => "2. Neuron resonance: BA's recovery against its target frequency";

    /// <summary>p / f ratios swept.</summary>
    public static double[] Ratios(ExperimentContext ctx) => ctx.Pick(new[] { 0.5, 3, 32 }, new[] { 0.5, 1, 2, 4, 8, 32 });

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = ctx.Pick(new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3), new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3));
        int neurons = 4 * spec.Features, batch = ctx.Pick(256, 512), seeds = ctx.Pick(1, 2);
        var budgets = new Dictionary<BiasInitialization, long>
        {
            [BiasInitialization.Edge] = ctx.Pick(256L * 1500, 6_400_000),
            [BiasInitialization.Quantile] = ctx.Pick(256L * 1500, 12_800_000),
        };
        var problems = new SyntheticProblems(spec, ctx.Pick(4096, 16_384));
        double f = spec.MeanSparsity / spec.Features;
        var defaults = new TrainerOptions();
        var o = ExperimentRuns.Base(ctx, neurons, 1, batch, lr: defaults.LearningRate, initTokens: ctx.Pick(8192, 25_600));
        var ci = CultureInfo.InvariantCulture;

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: synthetic n={spec.Features} d={spec.Dim} s={spec.Sparsity}; f = s/n = {f:G3}. BA (GBA with one group), tied JumpReLU SAE, " +
            $"M = {neurons}, batch {batch}, AdamW lr {defaults.LearningRate}, per-token normalisation; {seeds} seed(s) per point, cells median [min–max]. " +
            $"Budgets: {budgets[BiasInitialization.Edge]:N0} tokens from the edge start, {budgets[BiasInitialization.Quantile]:N0} from the quantile start " +
            $"({budgets[BiasInitialization.Quantile] / defaults.BufferTokens:N0} bias updates)."));
        report.Line();
        ctx.Log.WriteLine($"resonance: n={spec.Features} d={spec.Dim} s={spec.Sparsity}, M = {neurons}");

        var all = new JsonArray();
        var rows = new List<IReadOnlyList<string>>();
        var series = new List<Series>();
        foreach (var start in new[] { BiasInitialization.Edge, BiasInitialization.Quantile })
        {
            string startName = start.ToString().ToLowerInvariant();
            var frr9 = new List<(double, double)>();
            foreach (double ratio in Ratios(ctx))
            {
                double p = ratio * f;
                var ba = Methods.Ba(p);
                var method = new MethodSpec(ba.Name, ba.Setting + $", {startName} start", x => ba.Configure(x) with { BiasInit = start });
                var runs = ExperimentRuns.RunSeeds(ctx, string.Create(ci, $"BA p={ratio:G3}f {startName}"), method, o with { Tokens = budgets[start] }, seeds, problems.Data);
                var json = runs.ToJson();
                json["ratio"] = ratio;
                json["taf"] = p;
                json["start"] = startName;
                all.Add(json);
                rows.Add([startName, ExperimentReport.F(ratio, "G3"), ExperimentReport.F(p, "G3"), runs.Final(m => m.Frr08).Cell(), runs.Final(m => m.Frr09).Cell(),
                    MethodRuns.MillionsCell(runs.TokensToRecovery()), runs.Final(m => m.DeadFraction).Cell(), runs.Final(m => m.L0).Cell("F2"), runs.Final(m => m.Fvu).Cell()]);
                frr9.Add((ratio, runs.Final(m => m.Frr09).Median));
            }
            series.Add(Series.From($"FRR@0.9, {startName} start", frr9, dashed: start == BiasInitialization.Quantile));
        }
        report.Table(["start", "p / f", "p", "FRR@0.8", "FRR@0.9", "tokens to FRR@0.9 ≥ 0.9", "dead fraction", "L0", "FVU"], rows);
        report.Data["frequency"] = f;
        report.Data["runs"] = all;
        report.Plot("frr", Svg.LinePlot(new PlotSpec("BA: recovery against target frequency", "p / f", "FRR@0.9 (median over seeds)", LogX: true, Width: 640, Height: 400, YRange: (0, 1)),
            series, verticalLines: [(1, "p = f"), (2, "2f"), (4, "4f")]),
            "FRR@0.9 against p/f from the two starts; the paper's band is 2-4x f");
        return report;
    }
}
