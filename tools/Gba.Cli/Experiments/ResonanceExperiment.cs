using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 2, "neuron resonance": BA's FRR as its target frequency p sweeps across the true
/// feature frequency f on the uniform model. The paper: recovery needs p about 2-4× f.
/// </summary>
public sealed class ResonanceExperiment : IExperiment
{
    public string Name => "resonance";
    public string Title => "2. Neuron resonance: BA's recovery against its target frequency";

    /// <summary>p / f ratios swept.</summary>
    public static double[] Ratios(ExperimentContext ctx) => ctx.Pick(new[] { 0.5, 3, 32 }, new[] { 0.5, 1, 1.5, 2, 3, 4, 6, 8, 16, 32 });

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = ctx.Pick(new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3), new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3));
        int neurons = 4 * spec.Features, steps = ctx.Pick(1500, 5000), batch = ctx.Pick(256, 512);
        var problem = new SyntheticProblem(spec, ctx.Seed, ctx.Pick(4096, 16_384));
        double f = problem.Frequency;
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: 3e-3, initTokens: ctx.Pick(8192, 25_600)) with { Method = TrainingMethod.Ba };
        var ci = CultureInfo.InvariantCulture;

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: {problem.Describe()}; f = s/n = {f:G3}. BA (GBA with one group), tied JumpReLU SAE, M = {neurons}, batch {batch}, " +
            $"{steps} steps, AdamW lr 3e-3, quantile bias warm start, seed {ctx.Seed}; evaluation on {problem.Eval.Count:N0} held-out tokens."));
        report.Line();
        ctx.Log.WriteLine($"resonance: {problem.Describe()}, M = {neurons}, {steps} steps");

        var runs = new JsonArray();
        var rows = new List<IReadOnlyList<string>>();
        var frr8 = new List<(double, double)>();
        var frr9 = new List<(double, double)>();
        var dead = new List<(double, double)>();
        foreach (double ratio in Ratios(ctx))
        {
            double p = ratio * f;
            var r = ExperimentRuns.Train(ctx, string.Create(ci, $"BA p = {ratio:G3} f = {p:G3}"), o with { Taf = p }, problem.Model.OpenStream(1), problem.Eval);
            var m = r.Final;
            var json = ExperimentRuns.Metrics(r, "BA", string.Create(ci, $"p={p:G3}"));
            json["ratio"] = ratio;
            json["taf"] = p;
            runs.Add(json);
            rows.Add([ExperimentReport.F(ratio, "G3"), ExperimentReport.F(p, "G3"), ExperimentReport.F(m.Frr08 ?? 0), ExperimentReport.F(m.Frr09 ?? 0),
                ExperimentReport.F(m.DeadFraction), ExperimentReport.F(m.L0, "F2"), ExperimentReport.F(m.Fvu)]);
            frr8.Add((ratio, m.Frr08 ?? 0));
            frr9.Add((ratio, m.Frr09 ?? 0));
            dead.Add((ratio, m.DeadFraction));
        }
        report.Table(["p / f", "p", "FRR@0.8", "FRR@0.9", "dead fraction", "L0", "FVU"], rows);
        report.Data["frequency"] = f;
        report.Data["runs"] = runs;
        report.Plot("frr", Svg.LinePlot(new PlotSpec("BA: recovery against target frequency", "p / f", "fraction", LogX: true, Width: 640, Height: 400, YRange: (0, 1)),
            [Series.From("FRR@0.8", frr8), Series.From("FRR@0.9", frr9), Series.From("dead fraction", dead, dashed: true)],
            verticalLines: [(1, "p = f"), (2, "2f"), (4, "4f")]),
            "FRR against p/f; the paper's band is 2-4x f");
        return report;
    }
}
