using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Evaluation;
using GbaEngine.Synthetic;

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
        int neurons = 4 * spec.Features, steps = ctx.Pick(1500, 6000), batch = ctx.Pick(256, 512);
        var problem = new SyntheticProblem(spec, ctx.Seed, ctx.Pick(4096, 16_384));
        var freq = problem.Model.Frequencies;
        double median = freq.OrderBy(x => x).ElementAt(freq.Length / 2);
        // GBA with the paper's defaults (as `gba train`), and with its later, higher HTF that reaches the most frequent features.
        var hints = new MethodHints(K: spec.Sparsity, BaTaf: 3 * median, Groups: 10, Htf: 0.1, Ltf: 1e-3, L1: 0.3);
        var methods = Methods.All(hints).Append(Methods.Gba(10, 0.5, 1e-3)).ToArray();
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: 3e-3, initTokens: ctx.Pick(8192, 25_600));
        var ci = CultureInfo.InvariantCulture;

        // Deciles of the features ranked by frequency, most frequent first.
        var order = Enumerable.Range(0, freq.Length).OrderByDescending(i => freq[i]).ToArray();
        int[][] decile = Enumerable.Range(0, Deciles).Select(k => order[(k * freq.Length / Deciles)..((k + 1) * freq.Length / Deciles)]).ToArray();

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: {problem.Describe()}; frequencies from {freq.Max():G3} down to {freq.Min():G3} (median {median:G3}). " +
            $"SAE: tied, M = {neurons}, batch {batch}, {steps} steps, AdamW lr 3e-3, seed {ctx.Seed}; BA's p is 3× the median frequency, TopK's k and MP's T " +
            $"are the mean s; evaluation on {problem.Eval.Count:N0} held-out tokens. Decile 1 holds the most frequent 10% of the features."));
        report.Line();
        ctx.Log.WriteLine($"heterogeneous: {problem.Describe()}, M = {neurons}, {steps} steps");

        var runs = new JsonArray();
        var perMethod = new List<double[]>();
        var totals = new List<IReadOnlyList<string>>();
        foreach (var method in methods)
        {
            var r = ExperimentRuns.Train(ctx, method.Label, method.Configure(o), problem.Model.OpenStream(1), problem.Eval);
            var best = r.Final.BestCosines!;
            var byDecile = decile.Select(ids => FeatureRecovery.Rate(ids.Select(i => best[i]).ToArray(), 0.8)).ToArray();
            perMethod.Add(byDecile);
            var json = ExperimentRuns.Metrics(r, method.Name, method.Setting);
            json["frr_0_8_by_decile"] = new JsonArray(byDecile.Select(v => (JsonNode)v).ToArray());
            runs.Add(json);
            totals.Add([method.Name, method.Setting, ExperimentReport.F(r.Final.Frr08 ?? 0), ExperimentReport.F(r.Final.Frr09 ?? 0),
                ExperimentReport.F(r.Final.DeadFraction), ExperimentReport.F(r.Final.L0, "F2"), ExperimentReport.F(r.Final.Fvu)]);
        }

        report.Line("FRR@0.8 per frequency decile:");
        report.Line();
        report.Table(["decile", "f range", .. methods.Select(m => m.Name == "GBA" ? $"GBA {m.Setting.Replace("K=10, TAF ", "")}" : m.Name)],
            Enumerable.Range(0, Deciles).Select(k => (IReadOnlyList<string>)[
                (k + 1).ToString(ci),
                string.Create(ci, $"{freq[decile[k][^1]]:G2} - {freq[decile[k][0]]:G2}"),
                .. perMethod.Select(v => ExperimentReport.F(v[k], "F2"))]));
        report.Line("Overall:");
        report.Line();
        report.Table(["method", "setting", "FRR@0.8", "FRR@0.9", "dead", "L0", "FVU"], totals);
        report.Data["decile_mean_frequency"] = new JsonArray(decile.Select(ids => (JsonNode)ids.Average(i => freq[i])).ToArray());
        report.Data["runs"] = runs;

        var xs = decile.Select(ids => ids.Average(i => freq[i])).ToArray();
        report.Plot("deciles", Svg.LinePlot(new PlotSpec("FRR@0.8 by feature frequency (power law)", "mean frequency of the decile", "FRR@0.8", LogX: true, Width: 640, Height: 400, YRange: (0, 1)),
            methods.Select((m, i) => Series.From($"{m.Name} ({m.Setting})", xs.Zip(perMethod[i]).ToArray())).ToArray()),
            "FRR@0.8 per frequency decile and method");
        return report;
    }
}
