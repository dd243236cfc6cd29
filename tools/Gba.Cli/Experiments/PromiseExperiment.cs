using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Charts;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 0, GBA's promise: with its defaults (K = 10 groups, TAFs 0.1 → 0.001) and no knowledge of the sparsity,
/// GBA recovers the features of the paper's models: uniform at several sizes (every seed, 1, 2 and 3 threads), a power
/// law and the s = 3 / 20 mixture. The headline figure is the tokens each method needs to reach FRR@0.9 ≥ 0.9, next to
/// TopK told the true s and TopK with k wrong by about 2× either way.
/// </summary>
public sealed class PromiseExperiment : IExperiment
{
    public string Name => "promise";
    public string Title => "0. GBA's promise: recovery without knowing s, and tokens to recovery";

    /// <summary>A problem of the experiment: its model, budget, TopK's k values (told, low, high) and the thread counts GBA runs on.</summary>
    sealed record Problem(string Label, SyntheticSpec Spec, long Tokens, int[] TopK, int[] GbaThreads);

    IReadOnlyList<Problem> Problems(ExperimentContext ctx)
    {
        int t = ctx.Threads;
        int[] allThreads = [1, 2, 3];
        if (!ctx.Full)
            return
            [
                new("uniform n=128 d=32 s=3", new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3), 512L * 1200, [3, 2, 6], [1, 2]),
            ];
        return
        [
            new("uniform n=512 d=64 s=3", new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3), 4_000_000, [3, 2, 6], allThreads),
            new("uniform n=768 d=96 s=3", new SyntheticSpec(Features: 768, Dim: 96, Sparsity: 3), 4_000_000, [3, 2, 6], [t]),
            new("uniform n=1024 d=128 s=4", new SyntheticSpec(Features: 1024, Dim: 128, Sparsity: 4), 4_000_000, [4, 2, 8], [t]),
            new("uniform n=1024 d=64 s=4", new SyntheticSpec(Features: 1024, Dim: 64, Sparsity: 4), 4_000_000, [4, 2, 8], [t]),
            new("power law α=1 n=512 d=64 s=3", new SyntheticSpec(Features: 512, Dim: 64, Sparsity: 3, Profile: FrequencyProfile.PowerLaw, Exponent: 1.0),
                6_000_000, [3, 2, 6], [t]),
            new("mixture s=3/20 n=128 d=42", new SyntheticSpec(Features: 128, Dim: 42, Sparsity: 3, MixSparsity: 20, MixFraction: 0.5), 5_000_000, [12, 6, 24], [t]),   // told: the mean s = 11.5
        ];
    }

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var report = new ExperimentReport(Name, Title);
        var ci = CultureInfo.InvariantCulture;
        int batch = 512, gbaSeeds = ctx.Pick(2, 5), topkSeeds = ctx.Pick(1, 2);
        var defaults = new TrainerOptions();
        report.Line(string.Create(ci, $"GBA runs with `gba train`'s defaults: K = {defaults.Groups} groups, TAFs {defaults.Htf} → {defaults.Ltf}, " +
            $"{defaults.BiasInit.ToString().ToLowerInvariant()} bias start, the paper's bias rule, {defaults.Normalization} normalisation, tied JumpReLU, " +
            $"AdamW lr {defaults.LearningRate}, batch {batch}, M = 4n. TopK runs with the same optimiser and normalisation and is told k. " +
            $"Each seed draws its own problem and start. Tokens to recovery is the first of {ctx.Pick(8, 24)} log-spaced evaluations at which FRR@0.9 ≥ 0.9 " +
            $"(so it is an upper bound within one evaluation interval); a run that never gets there counts as \"never\". Cells are median [min–max]."));
        report.Line();

        var headline = new List<IReadOnlyList<string>>();
        var finals = new List<IReadOnlyList<string>>();
        var problemsJson = new JsonArray();
        int plot = 0;
        foreach (var problem in Problems(ctx))
        {
            var problems = new SyntheticProblems(problem.Spec, ctx.Pick(4096, 16_384));
            int neurons = 4 * problem.Spec.Features;
            double f = problem.Spec.MeanSparsity / problem.Spec.Features;
            var o = ExperimentRuns.Base(ctx, neurons, (int)(problem.Tokens / batch), batch, lr: defaults.LearningRate) with { InitTokens = defaults.InitTokens };
            ctx.Log.WriteLine($"promise: {problem.Label}, M = {neurons}, {problem.Tokens:N0} tokens");

            var gba = ExperimentRuns.RunSeeds(ctx, "GBA defaults", Methods.Gba(defaults.Groups, defaults.Htf, defaults.Ltf), o, gbaSeeds, problems.Data, problem.GbaThreads);
            var topk = problem.TopK.Select((k, i) => ExperimentRuns.RunSeeds(ctx,
                $"TopK k={k}{(i == 0 ? " (told)" : "")}", Methods.TopK(k), o, topkSeeds, problems.Data)).ToArray();
            var all = new[] { gba }.Concat(topk).ToArray();

            var told = topk[0].TokensToRecovery();
            var ours = gba.TokensToRecovery();
            headline.Add([problem.Label, string.Create(ci, $"{f:G3}"), $"{MethodRuns.MillionsCell(ours)} ({gba.Reached})",
                .. topk.Select((r, i) => $"k={problem.TopK[i]}: {MethodRuns.MillionsCell(r.TokensToRecovery())} ({r.Reached})"),
                double.IsPositiveInfinity(told.Median) ? "told TopK never" : ExperimentReport.F(ours.Median / told.Median, "F2")]);
            foreach (var r in all)
                finals.Add([problem.Label, r.Label, r.Final(m => m.Frr08).Cell(), r.Final(m => m.Frr09).Cell(), r.Final(m => m.DeadFraction).Cell(),
                    r.Final(m => m.L0).Cell("F2"), r.Final(m => m.Fvu).Cell(), r.Runs.Count.ToString(ci)]);
            problemsJson.Add(new JsonObject
            {
                ["problem"] = problem.Label, ["frequency"] = f, ["tokens"] = problem.Tokens, ["neurons"] = neurons,
                ["topk_k"] = new JsonArray(problem.TopK.Select(k => (JsonNode)k).ToArray()),
                ["methods"] = new JsonArray(all.Select(r => (JsonNode)r.ToJson()).ToArray()),
            });
            report.Plot($"curve{plot++}", Svg.LinePlot(new PlotSpec($"FRR@0.9 against tokens: {problem.Label}", "tokens", "FRR@0.9 (median over runs)",
                    LogX: true, Width: 640, Height: 360, YRange: (0, 1)),
                    all.Select((r, i) => r.MedianCurve(m => m.Frr09, dashed: i > 1)).ToArray()),
                $"Learning curves, {problem.Label}");
        }

        report.Line("Tokens to FRR@0.9 ≥ 0.9 (median [range] over runs, and how many runs got there):");
        report.Line();
        report.Table(["problem", "f", "GBA defaults", "TopK told s", "TopK k too low", "TopK k too high", "GBA / told TopK (medians)"], headline);
        report.Line("Final metrics at the end of each budget:");
        report.Line();
        report.Table(["problem", "method", "FRR@0.8", "FRR@0.9", "dead", "L0", "FVU", "runs"], finals);
        report.Data["problems"] = problemsJson;
        return report;
    }
}
