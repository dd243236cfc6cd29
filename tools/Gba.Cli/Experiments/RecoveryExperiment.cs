using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 1: FRR@0.8/0.9 and dead fraction of every method on the paper's uniform model
/// (unit Gaussian features, s features per token, f = s/n, M = 4n). GBA runs twice: with a TAF band
/// around the resonance band (4f → 2f) and with the paper's LLM defaults (K = 10, 0.1 → 0.001).
/// </summary>
public sealed class RecoveryExperiment : IExperiment
{
    public string Name => "recovery";
    public string Title => "1. Feature recovery on the uniform statistical model";

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var spec = ctx.Pick(new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3), new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3));
        int neurons = 4 * spec.Features, steps = ctx.Pick(1500, 6000), batch = ctx.Pick(256, 512);
        var problem = new SyntheticProblem(spec, ctx.Seed, ctx.Pick(4096, 16_384));
        double f = problem.Frequency;
        // L1's λ = 0.3: on this model 0.1 leaves L0 near 40 and recovers 60% (calibration at the small size).
        var hints = new MethodHints(K: spec.Sparsity, BaTaf: 3 * f, Groups: 3, Htf: 4 * f, Ltf: 2 * f, L1: 0.3);
        var methods = Methods.All(hints).Append(Methods.Gba(10, 0.1, 1e-3)).ToArray();
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: 3e-3, initTokens: ctx.Pick(8192, 25_600));

        var report = new ExperimentReport(Name, Title);
        var ci = CultureInfo.InvariantCulture;
        report.Line(string.Create(ci, $"Data: {problem.Describe()}; f = s/n = {f:G3}. SAE: tied, M = {neurons} (4n), batch {batch}, {steps} steps " +
            $"({(long)batch * steps:N0} tokens), AdamW lr 3e-3, seed {ctx.Seed}; evaluation on {problem.Eval.Count:N0} held-out tokens."));
        report.Line();
        ctx.Log.WriteLine($"recovery: {problem.Describe()}, M = {neurons}, {steps} steps");

        var rows = new List<IReadOnlyList<string>>();
        var runs = new JsonArray();
        var (chance8, chance9) = ExperimentRuns.ChanceRecovery(problem, neurons, ctx.Seed, ctx.Kernels);
        foreach (var method in methods)
        {
            var r = ExperimentRuns.Train(ctx, method.Label, method.Configure(o), problem.Model.OpenStream(1), problem.Eval);
            var m = r.Final;
            rows.Add([method.Name, method.Setting, ExperimentReport.F(m.Frr08 ?? 0), ExperimentReport.F(m.Frr09 ?? 0), ExperimentReport.F(m.DeadFraction),
                ExperimentReport.F(m.Fvu), ExperimentReport.F(m.L0, "F2"), ExperimentReport.F(r.Seconds, "F1")]);
            runs.Add(ExperimentRuns.Metrics(r, method.Name, method.Setting));
        }
        rows.Add(["untrained", "M random Gaussian directions", ExperimentReport.F(chance8), ExperimentReport.F(chance9), "", "", "", ""]);
        report.Table(["method", "setting", "FRR@0.8", "FRR@0.9", "dead fraction", "FVU", "L0", "seconds"], rows);
        report.Data["frequency"] = f;
        report.Data["chance_frr_0_8"] = chance8;
        report.Data["runs"] = runs;

        var labels = methods.Select(m => m.Name + (m.Name == "GBA" ? (m.Setting.StartsWith("K=10", StringComparison.Ordinal) ? " (paper)" : " (band)") : "")).ToArray();
        double Get(int i, string key) => runs[i]![key]?.GetValue<double>() ?? double.NaN;
        report.Plot("frr", Svg.Bars(new PlotSpec("Feature recovery, uniform model", "", "fraction", Width: 640, Height: 400, YRange: (0, 1)), labels,
            [("FRR@0.8", Enumerable.Range(0, methods.Length).Select(i => Get(i, "frr_0_8")).ToArray()),
             ("FRR@0.9", Enumerable.Range(0, methods.Length).Select(i => Get(i, "frr_0_9")).ToArray()),
             ("dead fraction", Enumerable.Range(0, methods.Length).Select(i => Get(i, "dead_fraction")).ToArray())]),
            "FRR@0.8, FRR@0.9 and dead fraction per method");
        return report;
    }
}
