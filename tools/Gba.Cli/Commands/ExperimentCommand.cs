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
    /// <summary>Every experiment, in the order of docs/experiments.md.</summary>
    public static readonly IReadOnlyList<IExperiment> All =
    [
        new PromiseExperiment(), new RecoveryExperiment(), new ResonanceExperiment(), new FrequencyAwarenessExperiment(),
        new HeterogeneousExperiment(), new ConsistencyExperiment(), new FrontierExperiment(), new AblationExperiment(),
    ];

    static readonly OptionSpec Size = OptionSpec.Valued("size", "Options", "small|full", "small (default) finishes in seconds; full is what docs/experiments.md reports");
    static readonly OptionSpec Out = OptionSpec.Valued("out", "Options", "DIR", "where NAME.md, NAME-*.svg and NAME.json go (default: experiment-results)");
    static readonly OptionSpec Seed = OptionSpec.Valued("seed", "Options", "S", "first seed (default 1)");
    static readonly OptionSpec Seeds = OptionSpec.Valued("seeds", "Options", "N", "seeds per setting (default: each experiment's own, 2-5 at full size)") with { Min = 1 };
    static readonly OptionSpec Data = OptionSpec.Valued("data", "Options", "FILE", "activations for consistency/frontier (default: shared/data/use-lite-moby-resid1-40k.f16.npy)");
    // Declared before MethodList, whose help text reads it during static initialisation.
    static readonly string[] MethodNames = Experiments.Methods.All(new Experiments.MethodHints(1, 0.01, 1, 0.1, 0.1)).Select(m => m.Name).ToArray();
    static readonly OptionSpec Steps = OptionSpec.Valued("steps", "Options", "N", "training steps per run of consistency and frontier (default: their own; 50000 gives GBA 1,000 bias updates)") with { Min = 1 };
    static readonly OptionSpec MethodList = OptionSpec.Valued("methods", "Options", "A,B", $"only these methods in consistency and frontier ({string.Join(", ", MethodNames)})");
    static readonly OptionSpec List = OptionSpec.Switch("list", "Options", "list the experiments");

    /// <summary>`gba experiment`'s options.</summary>
    public static readonly OptionSchema Schema = new("experiment",
        "reproduce the paper's claims (promise, recovery, resonance, frequency, heterogeneous, consistency, ablation, frontier)",
        [Size, Out, SharedOptions.Threads with { Group = "Options", Help = "threads per run (default: all cores)" }, Seed, Seeds, Steps, MethodList, Data, SharedOptions.Kernels with { Group = "Options" }, List,
         SharedOptions.Json with { Group = "Options" }])
    {
        Usage = ["NAME|all [--size small|full] [--out DIR] [--threads T] [--seed S] [--seeds N] [--steps N] [--methods A,B] [--data FILE] [--kernels K]", "--list"],
        Notes = "Experiments:\n" + string.Join("\n", All.Select(e => $"  {e.Name,-14} {e.Title}")) + "\n\n--json ends stdout with a JSON list of the reports written.",
    };

    /// <summary>Runs `gba experiment` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Flag(List.Flag))
        {
            foreach (var e in All) stdout.WriteLine($"{e.Name,-14} {e.Title}");
            return CliApp.Ok;
        }
        if (o.Positional.Count != 1) throw new UsageException($"give one experiment name ({string.Join(", ", All.Select(e => e.Name))}) or 'all'");
        string name = o.Positional[0];
        var chosen = name == "all" ? All : All.Where(e => e.Name == name).ToArray();
        if (chosen.Count == 0) throw new UsageException($"unknown experiment '{name}' (expected {string.Join(", ", All.Select(e => e.Name))} or all)");
        var kernels = SharedOptions.ReadKernels(o);
        var size = o.Enum(Size.Flag, ExperimentSize.Small);
        int threads = SharedOptions.ReadThreads(o);
        string outDir = o.String(Out.Flag) ?? "experiment-results";
        int? seeds = o.Has(Seeds.Flag) ? o.Int(Seeds.Flag, 1) : null;
        int? steps = o.Has(Steps.Flag) ? o.Int(Steps.Flag, 1) : null;
        var methods = ReadMethods(o);
        if ((steps is not null || methods is not null) && chosen.FirstOrDefault(e => !e.TakesStepsAndMethods) is { } other)
            throw new UsageException($"--steps and --methods apply to {string.Join(" and ", All.Where(e => e.TakesStepsAndMethods).Select(e => e.Name))} only, not to {other.Name}");
        var ctx = new ExperimentContext(size, threads, o.ULong(Seed.Flag, 1), stderr, o.String(Data.Flag), seeds, kernels, steps, methods);

        var results = new JsonArray();
        foreach (var experiment in chosen)
        {
            var clock = Stopwatch.StartNew();
            var report = experiment.Run(ctx);
            report.Data["size"] = size.ToString().ToLowerInvariant();
            report.Data["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
            string command = $"gba experiment {experiment.Name} --size {size.ToString().ToLowerInvariant()}" +
                (steps is null ? "" : $" --steps {steps}") + (methods is null ? "" : $" --methods {string.Join(',', methods)}");
            report.Data["command"] = command;
            report.Line($"Made by `{command}` " +
                        string.Create(CultureInfo.InvariantCulture, $"({threads} threads, {clock.Elapsed.TotalMinutes:F1} min, kernels {kernels ?? Kernels.KernelSelector.Current})."));
            var files = report.Write(outDir);
            stdout.WriteLine($"{experiment.Name}: {string.Join(", ", files.Select(Path.GetFileName))} in {outDir} " +
                             string.Create(CultureInfo.InvariantCulture, $"({clock.Elapsed.TotalSeconds:F0} s)"));
            results.Add(new JsonObject { ["name"] = experiment.Name, ["markdown"] = Path.Combine(outDir, experiment.Name + ".md"), ["seconds"] = report.Data["seconds"]!.DeepClone() });
        }
        if (o.Flag(SharedOptions.Json.Flag)) stdout.WriteLine(results.ToResultJson());
        return CliApp.Ok;
    }


    static IReadOnlyList<string>? ReadMethods(OptionReader o)
    {
        if (o.String(MethodList.Flag) is not { } text) return null;
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new UsageException("--methods needs at least one method name");
        foreach (var n in names)
            if (!MethodNames.Contains(n, StringComparer.OrdinalIgnoreCase))
                throw new UsageException($"--methods: unknown method '{n}' (expected {string.Join(", ", MethodNames)})");
        return names;
    }
}
