using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Experiments;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba experiment NAME|all [--size small|full] [--out DIR]`: reproduces one of the paper's claims and
/// writes DIR/NAME.md (tables), DIR/NAME-*.svg (plots) and DIR/NAME.json (the numbers).
/// </summary>
public static class ExperimentCommand
{
    static readonly HashSet<string> ValueOptions = ["--size", "--out", "--threads", "--seed", "--seeds", "--data", "--kernels"];
    static readonly HashSet<string> Flags = ["--json", "--help", "-h", "--list"];

    /// <summary>Every experiment, in the order of docs/experiments.md.</summary>
    public static readonly IReadOnlyList<IExperiment> All =
    [
        new PromiseExperiment(), new RecoveryExperiment(), new ResonanceExperiment(), new FrequencyAwarenessExperiment(),
        new HeterogeneousExperiment(), new ConsistencyExperiment(), new FrontierExperiment(), new AblationExperiment(),
    ];

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        if (o.Flag("--list"))
        {
            foreach (var e in All) stdout.WriteLine($"{e.Name,-14} {e.Title}");
            return CliApp.Ok;
        }
        if (o.Positional.Count != 1) throw new UsageException($"give one experiment name ({string.Join(", ", All.Select(e => e.Name))}) or 'all'");
        string name = o.Positional[0];
        var chosen = name == "all" ? All : All.Where(e => e.Name == name).ToArray();
        if (chosen.Count == 0) throw new UsageException($"unknown experiment '{name}' (expected {string.Join(", ", All.Select(e => e.Name))} or all)");
        if (o.String("--kernels") is { } k) Kernels.KernelSelector.Force(Kernels.KernelSelector.Parse(k));
        var size = o.Enum("--size", ExperimentSize.Small);
        int threads = o.Int("--threads", Environment.ProcessorCount);
        if (threads < 1) throw new UsageException($"--threads must be at least 1 (got {threads})");
        string outDir = o.String("--out") ?? "experiment-results";
        int? seeds = o.Has("--seeds") ? o.Int("--seeds", 1) : null;
        if (seeds < 1) throw new UsageException($"--seeds must be at least 1 (got {seeds})");
        var ctx = new ExperimentContext(size, threads, o.ULong("--seed", 1), stderr, o.String("--data"), seeds);

        var results = new JsonArray();
        foreach (var experiment in chosen)
        {
            var clock = Stopwatch.StartNew();
            var report = experiment.Run(ctx);
            report.Data["size"] = size.ToString().ToLowerInvariant();
            report.Data["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            report.Data["command"] = $"gba experiment {experiment.Name} --size {size.ToString().ToLowerInvariant()}";
            report.Line($"Made by `gba experiment {experiment.Name} --size {size.ToString().ToLowerInvariant()}` " +
                        string.Create(CultureInfo.InvariantCulture, $"({threads} threads, {clock.Elapsed.TotalMinutes:F1} min, kernels {Kernels.KernelSelector.Current})."));
            var files = report.Write(outDir);
            stdout.WriteLine($"{experiment.Name}: {string.Join(", ", files.Select(Path.GetFileName))} in {outDir} " +
                             string.Create(CultureInfo.InvariantCulture, $"({clock.Elapsed.TotalSeconds:F0} s)"));
            results.Add(new JsonObject { ["name"] = experiment.Name, ["markdown"] = Path.Combine(outDir, experiment.Name + ".md"), ["seconds"] = report.Data["seconds"]!.DeepClone() });
        }
        if (o.Flag("--json")) stdout.WriteLine(results.ToJsonString());
        return CliApp.Ok;
    }

    const string Help = """
        gba experiment: reproduce the paper's claims and write a markdown table and SVG plots

        Usage: gba experiment NAME|all [--size small|full] [--out DIR] [--threads T] [--seed S] [--data FILE]
               gba experiment --list

        Experiments:
          promise        tokens to FRR@0.9 >= 0.9 of default GBA (not told s) vs TopK told s and with k wrong, several models and seeds
          recovery       FRR@0.8/0.9 and dead fraction of every method on the uniform statistical model
          resonance      BA's FRR against its target frequency p (the paper: recovery needs p about 2-4x f)
          frequency      the n=128, d=42 mixture (half the tokens s=3, half s=20): TopK k=20/30/50 vs GBA
          heterogeneous  a power-law frequency profile: FRR by frequency decile per method
          consistency    MCS across 3 seeds on real activations (all neurons, top 0.3% / 0.05% by max activation)
          ablation       what makes GBA recover: the defaults against one change at a time (start, normalisation, rule, b_pre)
          frontier       FVU against fraction active on real activations (GBA once; TopK, BA swept; MP at several T)

        Options:
          --size small|full  small (default) finishes in seconds; full is what docs/experiments.md reports
          --out DIR          where NAME.md, NAME-*.svg and NAME.json go (default: experiment-results)
          --threads T        threads per run (default: all cores)
          --seed S           first seed (default 1)
          --seeds N          seeds per setting (default: each experiment's own, 2-5 at full size)
          --data FILE        activations for consistency/frontier (default: shared/data/use-lite-moby-resid1-40k.f16.npy)
          --kernels K        scalar|avx2|avx512
          --json             end stdout with a JSON list of the reports written

        """;
}
