using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Evaluation;
using GbaEngine.Training;
using GbaEngine.Encoders;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 6, the loss-sparsity frontier on real activations: FVU against the fraction of neurons
/// active, one point per setting. GBA runs once with the paper's defaults (it needs no sweep); TopK's
/// k and BA's p are swept; MP is trained once and evaluated at several step counts T (its sparsity is
/// an inference-time choice); L1's λ is swept, BatchTopK and JumpReLU-L0 add a few points. The paper:
/// GBA sits on the TopK frontier and well ahead of L1 and BA.
/// </summary>
public sealed class FrontierExperiment : IExperiment
{
    public string Name => "frontier";
    public bool TakesStepsAndMethods => true;

    public string Title => "6. Loss-sparsity frontier on real activations";

    /// <summary>Every trained point; adding a method's sweep is adding one line.</summary>
    static IReadOnlyList<MethodSpec> Points(ExperimentContext ctx) =>
    [
        Methods.Gba(10, 0.1, 1e-3),
        .. ctx.Pick(new[] { 8, 32 }, [8, 16, 32, 64, 128]).Select(Methods.TopK),
        .. ctx.Pick(new[] { 0.01, 0.05 }, [0.003, 0.01, 0.03, 0.1]).Select(Methods.Ba),
        Methods.Mp(4),
        .. ctx.Pick(new[] { 0.03, 0.1 }, [0.03, 0.06, 0.1, 0.2]).Select(Methods.L1),
        .. ctx.Pick(new[] { 16 }, [16, 64]).Select(Methods.BatchTopK),
        .. ctx.Pick(new[] { 0.05 }, [0.02, 0.1]).Select(Methods.JumpReluL0),
    ];

    /// <summary>Step counts the trained MP dictionary is evaluated at.</summary>
    static int[] PursuitSteps(ExperimentContext ctx) => ctx.Pick(new[] { 1, 4, 8 }, [1, 2, 4, 8, 16, 32]);

    public ExperimentReport Run(ExperimentContext ctx)
    {
        using var data = ConsistencyExperiment.OpenData(ctx);
        int neurons = ctx.Pick(128, 2048), steps = ctx.StepsOr(ctx.Pick(200, 800)), batch = ctx.Pick(256, 512);
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: ctx.Pick(3e-3, 1e-3), initTokens: ctx.Pick(2048, 25_600));
        var ci = CultureInfo.InvariantCulture;

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: {data.Describe()} ({Path.GetFileName(data.Path)}). SAE: {ExperimentRuns.SaeForm}, M = {neurons}, batch {batch}, {steps} steps " +
            $"({(long)batch * steps:N0} tokens), AdamW lr {o.LearningRate:G3}, seed {ctx.Seed}; FVU and fraction active on the {data.Eval.Count:N0} held-out tokens."));
        report.Line();
        ctx.Log.WriteLine($"frontier: {data.Describe()}, M = {neurons}, {steps} steps");

        var runs = new JsonArray();
        var rows = new List<IReadOnlyList<string>>();
        var series = new Dictionary<string, List<(double, double)>>();
        void Add(string method, string setting, EvaluationMetrics m, double seconds, JsonObject json)
        {
            rows.Add([method, setting, ExperimentReport.F(m.FractionActive, "G3"), ExperimentReport.F(m.L0, "F1"), ExperimentReport.F(m.Fvu, "F4"),
                ExperimentReport.F(m.DeadFraction), ExperimentReport.F(seconds, "F1")]);
            if (!series.TryGetValue(method, out var list)) series[method] = list = [];
            list.Add((m.FractionActive, m.Fvu));
            runs.Add(json);
        }
        foreach (var point in ctx.Only(Points(ctx)))
        {
            var r = ExperimentRuns.Train(ctx, point.Label, point.Configure(o), data.TrainStream(ctx.Seed), data.Eval);
            if (point.Configure(o).Method != TrainingMethod.Mp)
            {
                Add(point.Name, point.Setting, r.Final, r.Seconds, ExperimentRuns.Metrics(r, point.Name, point.Setting));
                continue;
            }
            foreach (int t in PursuitSteps(ctx))
            {
                var m = Evaluator.Evaluate(MatchingPursuitEncoder.WithSteps(r.Model, t), data.Eval, null, ctx.Threads);
                string setting = $"{point.Setting}, evaluated at T={t}";
                var json = ExperimentRuns.Metrics(r, point.Name, setting);
                json["fvu"] = m.Fvu; json["l0"] = m.L0; json["fraction_active"] = m.FractionActive; json["dead_fraction"] = m.DeadFraction;
                json["inference_steps"] = t;
                Add(point.Name, setting, m, r.Seconds, json);
                ctx.Log.WriteLine(string.Create(ci, $"    evaluated at T = {t}: FVU {m.Fvu:F4} L0 {m.L0:F2}"));
            }
        }
        report.Table(["method", "setting", "fraction active", "L0", "FVU", "dead", "train s"], rows);
        report.Data["runs"] = runs;
        report.Plot("fvu", Svg.LinePlot(new PlotSpec("Loss-sparsity frontier (lower left is better)", "fraction of neurons active", "FVU", LogX: true, Width: 640, Height: 400),
            series.Select(kv => Series.From(kv.Key, kv.Value.OrderBy(p => p.Item1).ToArray())).ToArray()),
            "FVU against fraction active, one point per setting");
        return report;
    }
}
