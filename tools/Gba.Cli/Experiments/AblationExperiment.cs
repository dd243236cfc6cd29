using GbaEngine.Charts;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>
/// Experiment 7, what makes GBA recover: the defaults (edge start, per-token normalisation, the paper's rule, trained
/// b_pre) against one change at a time, on a uniform model of the size the audit used and on the s = 3/20
/// mixture, over seeds, with learning curves. Answers which part of the defaults does the work and what the
/// paper-literal start (b = 0) needs.
/// </summary>
public sealed class AblationExperiment : IExperiment
{
    public string Name => "ablation";
    public string Title => "7. What makes GBA recover: one change at a time";

    static IReadOnlyList<(string Label, Func<TrainerOptions, TrainerOptions> Change)> Variants() =>
    [
        ("defaults", o => o),
        ("quantile start", o => o with { BiasInit = BiasInitialization.Quantile }),
        ("zero start (paper-literal)", o => o with { BiasInit = BiasInitialization.Zero }),
        ("zero start, b_pre none", o => o with { BiasInit = BiasInitialization.Zero, PreBias = PreBiasMode.None }),
        ("dataset scale", o => o with { Normalization = InputNormalization.DatasetScale }),
        ("dataset scale, edge rule", o => o with { Normalization = InputNormalization.DatasetScale, BiasRule = BiasRule.Edge }),
        ("edge rule", o => o with { BiasRule = BiasRule.Edge }),
        ("b_pre frozen", o => o with { PreBias = PreBiasMode.Frozen }),
        ("b_pre none", o => o with { PreBias = PreBiasMode.None }),
        ("earlier defaults (quantile start, dataset scale)", o => o with { BiasInit = BiasInitialization.Quantile, Normalization = InputNormalization.DatasetScale }),
        ("earlier defaults, b_pre frozen", o => o with { BiasInit = BiasInitialization.Quantile, Normalization = InputNormalization.DatasetScale, PreBias = PreBiasMode.Frozen }),
    ];

    public ExperimentReport Run(ExperimentContext ctx)
    {
        var problems = ctx.Pick(
            new[] { ("uniform n=128 d=32 s=3", new SyntheticSpec(Features: 128, Dim: 32, Sparsity: 3), 512, 256L * 1500) },
            new[]
            {
                ("uniform n=768 d=96 s=3", new SyntheticSpec(Features: 768, Dim: 96, Sparsity: 3), 3072, 6_400_000L),
                ("mixture s=3/20 n=128 d=42", new SyntheticSpec(Features: 128, Dim: 42, Sparsity: 3, MixSparsity: 20, MixFraction: 0.5), 512, 6_400_000L),
            });
        int batch = ctx.Pick(256, 512), seeds = ctx.Pick(1, 2);
        var defaults = new TrainerOptions();
        var gba = Methods.Gba(defaults.Groups, defaults.Htf, defaults.Ltf);
        var ci = CultureInfo.InvariantCulture;
        var report = new ExperimentReport(Name, Title);
        report.Line(string.Create(ci, $"GBA with K = {defaults.Groups}, TAFs {defaults.Htf} → {defaults.Ltf}, AdamW lr {defaults.LearningRate}, batch {batch}, tied JumpReLU; " +
            $"each row changes the defaults (edge start, per-token normalisation, the paper's bias rule, trained b_pre) as named. {seeds} seed(s) per row, cells median [min–max]."));
        report.Line();

        var rows = new List<IReadOnlyList<string>>();
        var json = new JsonArray();
        int plot = 0;
        foreach (var (label, spec, neurons, tokens) in problems)
        {
            var data = new SyntheticProblems(spec, ctx.Pick(4096, 16_384));
            var o = ExperimentRuns.Base(ctx, neurons, (int)(tokens / batch), batch, lr: defaults.LearningRate, initTokens: ctx.Pick(8192, 25_600));
            ctx.Log.WriteLine($"ablation: {label}, M = {neurons}, {tokens:N0} tokens ({tokens / defaults.BufferTokens} bias updates)");
            var all = new List<MethodRuns>();
            foreach (var (variant, change) in Variants())
            {
                var method = new MethodSpec(gba.Name, variant, x => change(gba.Configure(x)));
                var runs = ExperimentRuns.RunSeeds(ctx, variant, method, o, seeds, data.Data);
                all.Add(runs);
                var b = runs.Runs.Select(r => r.Result).ToArray();
                rows.Add([label, variant, runs.Final(m => m.Frr08).Cell(), runs.Final(m => m.Frr09).Cell(), MethodRuns.MillionsCell(runs.TokensToRecovery()),
                    runs.Final(m => m.L0).Cell("F2"), runs.Final(m => m.DeadFraction).Cell(), runs.Final(m => m.Fvu).Cell(),
                    Spread.Of(b.Select(r => PreBiasNorm(r.Model))).Cell()]);
                var j = runs.ToJson();
                j["problem"] = label;
                json.Add(j);
            }
            report.Plot($"curves{plot++}", Svg.LinePlot(new PlotSpec($"FRR@0.9 against tokens: {label}", "tokens", "FRR@0.9 (median over seeds)", LogX: true,
                Width: 700, Height: 420, YRange: (0, 1)), all.Select((r, i) => r.MedianCurve(m => m.Frr09, dashed: i > 0)).ToArray()),
                $"Learning curves, {label}");
        }
        report.Table(["problem", "change from the defaults", "FRR@0.8", "FRR@0.9", "tokens to FRR@0.9 ≥ 0.9", "L0", "dead", "FVU", "‖b_pre‖ (normalised units)"], rows);
        report.Data["rows"] = json;
        return report;
    }

    static double PreBiasNorm(SparseAutoencoder sae)
    {
        double s = 0;
        foreach (float v in sae.Parameters.PreBias) s += (double)v * v;
        return Math.Sqrt(s);
    }
}
