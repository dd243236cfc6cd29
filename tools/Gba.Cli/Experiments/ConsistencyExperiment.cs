using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Rng;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 5, consistency across seeds on real activations (the paper's MCS): each method is
/// trained with three seeds; for every neuron of one run, the best cosine with any decoder direction
/// of another; fractions above 0.6/0.7/0.8/0.9 over all neurons and over the top 0.3% / 0.05% by
/// maximum activation, averaged over the three pairs of runs.
/// </summary>
public sealed class ConsistencyExperiment : IExperiment
{
    public const int Seeds = 3;
    static readonly double[] Thresholds = [0.6, 0.7, 0.8, 0.9];

    public string Name => "consistency";
    public string Title => "5. Consistency across seeds on real activations (MCS)";

    public static RealData OpenData(ExperimentContext ctx) =>
        new(RealData.Locate(ctx.DataPath), ctx.Pick<long?>(6000, null), ctx.Pick(600, 4000));

    /// <summary>GBA with the paper's defaults; TopK's k near GBA's L0 (small: fewer, for the narrower SAE); MP at T = 4 (each step is a full pass over the dictionary).</summary>
    public static MethodHints RealDataHints(ExperimentContext ctx) =>
        new(K: ctx.Pick(8, 32), BaTaf: 0.01, Groups: 10, Htf: 0.1, Ltf: 1e-3, MpSteps: 4, L1: 0.1, L0: 0.05);

    public ExperimentReport Run(ExperimentContext ctx)
    {
        using var data = OpenData(ctx);
        int neurons = ctx.Pick(128, 2048), steps = ctx.Pick(200, 800), batch = ctx.Pick(256, 512);
        var o = ExperimentRuns.Base(ctx, neurons, steps, batch, lr: ctx.Pick(3e-3, 1e-3), initTokens: ctx.Pick(2048, 25_600));
        var methods = Methods.All(RealDataHints(ctx));
        var ci = CultureInfo.InvariantCulture;

        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"Data: {data.Describe()} ({System.IO.Path.GetFileName(data.Path)}). SAE: tied, M = {neurons}, batch {batch}, {steps} steps " +
            $"({(long)batch * steps:N0} tokens, {(double)batch * steps / data.TrainRows:F1} epochs), AdamW lr {o.LearningRate:G3}; seeds {ctx.Seed}..{ctx.Seed + Seeds - 1} " +
            $"(initialisation, GBA groups and data order). Max activations measured on the {data.Eval.Count:N0} held-out tokens; fractions averaged over the {Seeds} pairs of runs."));
        report.Line();
        ctx.Log.WriteLine($"consistency: {data.Describe()}, M = {neurons}, {steps} steps, {Seeds} seeds");

        var runs = new JsonArray();
        var rows = new List<IReadOnlyList<string>>();
        var above08 = new List<(string Method, double[] BySubset)>();
        foreach (var method in methods)
        {
            var models = new List<(SparseAutoencoder Sae, float[] MaxAct)>();
            for (int k = 0; k < Seeds; k++)
            {
                ulong seed = ctx.Seed + (ulong)k;
                var r = ExperimentRuns.Train(ctx, $"{method.Label} seed {seed}", method.Configure(o) with { Seed = seed }, data.TrainStream(seed), data.Eval);
                models.Add((r.Model, ExperimentRuns.MaxActivations(r.Model, data.Eval, ctx.Threads)));
                var json = ExperimentRuns.Metrics(r, method.Name, method.Setting);
                json["seed"] = seed;
                runs.Add(json);
            }
            var mean = MeanOverPairs(models, ctx.Threads, ctx.Kernels);
            foreach (var row in mean)
                rows.Add([method.Name, method.Setting, row.Subset, row.Neurons.ToString(ci), .. new[] { row.Above06, row.Above07, row.Above08, row.Above09 }.Select(v => ExperimentReport.F(v))]);
            above08.Add((method.Name, mean.Select(r => r.Above08).ToArray()));
            report.Data[method.Name] = new JsonArray(mean.Select(r => (JsonNode)new JsonObject
            {
                ["subset"] = r.Subset, ["neurons"] = r.Neurons, ["above_0_6"] = r.Above06, ["above_0_7"] = r.Above07, ["above_0_8"] = r.Above08, ["above_0_9"] = r.Above09,
            }).ToArray());
        }
        var chance = Chance(data.Dim, neurons, ctx.Seed, ctx.Threads, ctx.Kernels);
        rows.Add(["untrained", "two random dictionaries", chance.Subset, chance.Neurons.ToString(ci), .. new[] { chance.Above06, chance.Above07, chance.Above08, chance.Above09 }.Select(v => ExperimentReport.F(v))]);
        report.Data["chance_all_above_0_8"] = chance.Above08;
        report.Data["runs"] = runs;
        report.Table(["method", "setting", "neurons", "count", "MCS > 0.6", "> 0.7", "> 0.8", "> 0.9"], rows);

        report.Plot("mcs", Svg.Bars(new PlotSpec("Consistency across seeds: fraction with MCS > 0.8", "", "fraction", Width: 640, Height: 400, YRange: (0, 1)), above08.Select(a => a.Method).ToArray(),
            [("all neurons", above08.Select(a => a.BySubset[0]).ToArray()),
             ("top 0.3%", above08.Select(a => a.BySubset.ElementAtOrDefault(1)).ToArray()),
             ("top 0.05%", above08.Select(a => a.BySubset.ElementAtOrDefault(2)).ToArray())]),
            "fraction of neurons whose best match in another seed's run has cosine above 0.8");
        return report;
    }

    /// <summary>Consistency.Compare for every pair (i &lt; j, neurons of run i ranked by their max activation), averaged.</summary>
    static ConsistencyRow[] MeanOverPairs(List<(SparseAutoencoder Sae, float[] MaxAct)> models, int threads, Kernels.KernelSet? kernels)
    {
        var all = new List<IReadOnlyList<ConsistencyRow>>();
        for (int i = 0; i < models.Count; i++)
            for (int j = i + 1; j < models.Count; j++)
            {
                var (a, b) = (models[i].Sae.Parameters, models[j].Sae.Parameters);
                all.Add(Consistency.Compare(a.Decoder, a.Neurons, b.Decoder, b.Neurons, a.Dim, a.Stride, b.Stride, models[i].MaxAct, threads, kernels));
            }
        return Enumerable.Range(0, all[0].Count).Select(k => new ConsistencyRow(all[0][k].Subset, all[0][k].Neurons,
            all.Average(r => r[k].Above06), all.Average(r => r[k].Above07), all.Average(r => r[k].Above08), all.Average(r => r[k].Above09))).ToArray();
    }

    /// <summary>The same statistic for two untrained Gaussian dictionaries: what "consistent" means by chance in this d and M.</summary>
    static ConsistencyRow Chance(int d, int m, ulong seed, int threads, Kernels.KernelSet? kernels)
    {
        float[] Random(ulong s)
        {
            var rng = Xoshiro256.Derive(s, 0xC0C0);
            var w = new float[(long)m * d];
            for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextGaussian();
            return w;
        }
        return Consistency.Compare(Random(seed), m, Random(seed + 1), m, d, d, d, ReadOnlySpan<float>.Empty, threads, kernels)[0];
    }
}
