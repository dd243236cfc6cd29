using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Rng;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 5, consistency across seeds on real activations (the paper's MCS): each method is trained with several
/// seeds; for every neuron of one run, the best cosine with any decoder direction of another. Fractions above
/// 0.6/0.7/0.8/0.9 over all neurons and over the top fractions of neurons ranked by maximum activation (the paper's
/// choice) and by a Z-score of the maximum, each averaged over every ordered pair of runs, next to the chance level:
/// random Gaussian directions matched against the same trained dictionaries.
/// </summary>
public sealed class ConsistencyExperiment : IExperiment
{
    static readonly double[] Thresholds = [0.6, 0.7, 0.8, 0.9];
    /// <summary>Top fractions of neurons: the paper's 0.3% (6 neurons at M = 2,048), then subsets large enough to mean something.</summary>
    static readonly double[] Fractions = [0.003, 0.01, 0.05, 0.25];

    public string Name => "consistency";
    public bool TakesStepsAndMethods => true;

    public string Title => "5. Consistency across seeds on real activations (MCS)";

    public static RealData OpenData(ExperimentContext ctx) =>
        new(RealData.Locate(ctx.DataPath), ctx.Pick<long?>(6000, null), ctx.Pick(600, 4000));

    /// <summary>GBA with its defaults; TopK's k near GBA's L0 on this data (small: fewer, for the narrower SAE); MP at T = 4.</summary>
    public static MethodHints RealDataHints(ExperimentContext ctx)
    {
        var defaults = new TrainerOptions();
        return new(K: ctx.Pick(8, 16), BaTaf: 0.01, Groups: defaults.Groups, Htf: defaults.Htf, Ltf: defaults.Ltf, MpSteps: 4, L1: 0.1, L0: 0.05);
    }

    public ExperimentReport Run(ExperimentContext ctx)
    {
        using var data = OpenData(ctx);
        int neurons = ctx.Pick(128, 2048), steps = ctx.StepsOr(ctx.Pick(200, 2000)), batch = ctx.Pick(256, 512);
        var seeds = ctx.SeedList(3);
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: ctx.Pick(3e-3, 1e-3), initTokens: ctx.Pick(2048, 25_600));
        var methods = ctx.Only(Methods.All(RealDataHints(ctx)));
        var ci = CultureInfo.InvariantCulture;

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: {data.Describe()} ({System.IO.Path.GetFileName(data.Path)}). SAE: {ExperimentRuns.SaeForm}, M = {neurons}, batch {batch}, {steps} steps " +
            $"({(long)batch * steps:N0} tokens, {(double)batch * steps / data.TrainRows:F0} epochs of the training rows), AdamW lr {o.LearningRate:G3}, the trainer's defaults " +
            $"otherwise; seeds {seeds[0]}..{seeds[^1]} (initialisation, GBA groups and data order). Activations (max, mean, std per neuron) are measured on the " +
            $"{data.Eval.Count:N0} held-out tokens. Z-score = (max − mean) / std. Each cell is the mean over the {seeds.Length * (seeds.Length - 1)} ordered pairs of runs " +
            $"[min–max over pairs]. Chance: {neurons} random Gaussian directions matched against each trained run of the method."));
        report.Line();
        ctx.Log.WriteLine($"consistency: {data.Describe()}, M = {neurons}, {steps} steps, {seeds.Length} seeds");

        var rows = new List<IReadOnlyList<string>>();
        var summary = new List<(string Method, double All, double Top5Max, double Top5Z, double Chance)>();
        foreach (var method in methods)
        {
            var runs = new List<(SparseAutoencoder Sae, NeuronActivations Act, TrainingResult Result)>();
            foreach (ulong seed in seeds)
            {
                var r = ExperimentRuns.Train(ctx, $"{method.Label} seed {seed}", method.Configure(o) with { Seed = seed }, data.TrainStream(seed), data.Eval);
                runs.Add((r.Model, NeuronActivations.Measure(r.Model, data.Eval, ctx.Threads), r));
            }
            var pairs = new List<IReadOnlyList<ConsistencyRow>>();
            foreach (var a in runs)
                foreach (var b in runs)
                {
                    if (ReferenceEquals(a.Sae, b.Sae)) continue;
                    var (pa, pb) = (a.Sae.Parameters, b.Sae.Parameters);
                    pairs.Add(Consistency.Compare(pa.Decoder, pa.Neurons, pb.Decoder, pb.Neurons, pa.Dim, pa.Stride, pb.Stride,
                        [new NeuronRanking("max activation", a.Act.Max), new NeuronRanking("Z-score", a.Act.ZScores())], Fractions, ctx.Threads, ctx.Kernels));
                }
            var chanceRows = runs.Select((r, i) => Chance(r.Sae, seeds[i], ctx.Threads, ctx.Kernels)).ToArray();
            var chance = Spread.Of(chanceRows.Select(c => c.Above08));
            var subsets = new JsonArray();
            for (int k = 0; k < pairs[0].Count; k++)
            {
                var values = Thresholds.Select((_, t) => Spread.Of(pairs.Select(p => At(p[k], t)))).ToArray();
                var mean = Thresholds.Select((_, t) => pairs.Average(p => At(p[k], t))).ToArray();
                rows.Add([method.Name, pairs[0][k].Subset, pairs[0][k].Neurons.ToString(ci),
                    .. Thresholds.Select((_, t) => $"{ExperimentReport.F(mean[t])} [{ExperimentReport.F(values[t].Min)}–{ExperimentReport.F(values[t].Max)}]")]);
                subsets.Add(new JsonObject
                {
                    ["subset"] = pairs[0][k].Subset, ["neurons"] = pairs[0][k].Neurons,
                    ["above_0_6"] = mean[0], ["above_0_7"] = mean[1], ["above_0_8"] = mean[2], ["above_0_9"] = mean[3],
                    ["above_0_8_range"] = values[2].ToJson(),
                });
            }
            rows.Add([method.Name, "chance (random directions)", neurons.ToString(ci), ExperimentReport.F(chanceRows.Average(c => c.Above06)),
                ExperimentReport.F(chanceRows.Average(c => c.Above07)), chance.Cell(), ExperimentReport.F(chanceRows.Average(c => c.Above09))]);
            report.Data[method.Name] = subsets;
            report.Data[method.Name + " chance"] = new JsonObject
            {
                ["above_0_6"] = chanceRows.Average(c => c.Above06), ["above_0_8"] = chanceRows.Average(c => c.Above08),
            };
            report.Data[method.Name + " runs"] = new JsonArray(runs.Select((r, i) => { var j = ExperimentRuns.Metrics(r.Result, method.Name, method.Setting); j["seed"] = seeds[i]; return (JsonNode)j; }).ToArray());
            double Mean(string subset) => pairs.Average(p => p.Single(r => r.Subset == subset).Above08);
            summary.Add((method.Name, Mean("all"), Mean("top 5% by max activation"), Mean("top 5% by Z-score"), chance.Median));
        }
        report.Data["chance_all_above_0_8"] = summary.Max(s => s.Chance);
        report.Table(["method", "neurons", "count", "MCS > 0.6", "> 0.7", "> 0.8", "> 0.9"], rows);
        report.Plot("mcs", Svg.Bars(new PlotSpec("Consistency across seeds: fraction with MCS > 0.8", "", "fraction", Width: 700, Height: 400, YRange: (0, 1)),
            summary.Select(s => s.Method).ToArray(),
            [("all neurons", summary.Select(s => s.All).ToArray()),
             ("top 5% by max activation", summary.Select(s => s.Top5Max).ToArray()),
             ("top 5% by Z-score", summary.Select(s => s.Top5Z).ToArray()),
             ("chance", summary.Select(s => s.Chance).ToArray())]),
            "fraction of neurons whose best match in another seed's run has cosine above 0.8 (mean over ordered pairs)");
        return report;
    }

    static double At(ConsistencyRow r, int threshold) => threshold switch { 0 => r.Above06, 1 => r.Above07, 2 => r.Above08, _ => r.Above09 };

    /// <summary>M random Gaussian directions against a trained dictionary: the fraction that matches it by chance.</summary>
    static ConsistencyRow Chance(SparseAutoencoder trained, ulong seed, int threads, Kernels.KernelSet? kernels)
    {
        var p = trained.Parameters;
        var rng = Xoshiro256.Derive(seed, 0xC0C0);
        var w = new float[(long)p.Neurons * p.Dim];
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextGaussian();
        return Consistency.Compare(w, p.Neurons, p.Decoder, p.Neurons, p.Dim, p.Dim, p.Stride, ReadOnlySpan<float>.Empty, threads, kernels)[0];
    }
}
