using System.Text.Json.Nodes;
using GbaEngine.Cli.Sweeps;
using GbaEngine.Training;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// Where `gba train` takes options from besides the command line: `--config FILE` or one point of a
/// sweep (`--sweep FILE --index I`). Command-line flags always win; the result is one
/// <see cref="OptionReader"/> the rest of the command reads as if everything had been typed.
/// </summary>
public static class ConfigSources
{
    /// <summary>Pairs where a command-line value replaces the file's other one instead of clashing with it.</summary>
    static readonly (string, string)[] Exclusive = [("--steps", "--tokens")];

    /// <summary>The run's output directory after --config/--sweep are applied (null: no output).</summary>
    public static string? Apply(OptionReader o, Func<string, string?> environment)
    {
        string? outDir = o.String("--out");
        if (o.String("--sweep") is { } sweepPath)
        {
            if (o.Has("--config")) throw new UsageException("give --config or --sweep, not both");
            var plan = SweepPlan.Load(sweepPath, outDir);
            var point = plan.Select(o.String("--index"), environment("SLURM_ARRAY_TASK_ID"));
            o.AddDefaults(point.Options, $"{sweepPath} (run {point.Index})", TrainOptions.Configurable);
            outDir = Path.Combine(plan.Directory, point.Name);
        }
        else if (o.Has("--index")) throw new UsageException("--index needs --sweep FILE");
        else if (o.String("--config") is { } configPath)
            o.AddDefaults(RunConfig.Load(configPath), configPath, TrainOptions.Configurable);
        foreach (var (a, b) in Exclusive)
        {
            if (!o.Has(a) || !o.Has(b)) continue;
            if (o.FromCommandLine(a) && !o.FromCommandLine(b)) o.Remove(b);
            else if (o.FromCommandLine(b) && !o.FromCommandLine(a)) o.Remove(a);
        }
        return outDir;
    }
}
