using System.Text.Json.Nodes;
using GbaEngine.Training;

namespace GbaEngine.Cli.Options;

/// <summary>How an option is written on the command line.</summary>
public enum OptionKind
{
    /// <summary>--name VALUE, at most once.</summary>
    Value,
    /// <summary>--name, no value.</summary>
    Flag,
    /// <summary>--name VALUE, repeatable (a config file gives a list).</summary>
    List,
}

/// <summary>Where an option may come from and what happens to it on resume (what `gba train` saves and reads from files).</summary>
[Flags]
public enum OptionScope
{
    /// <summary>Steers this invocation only (--out, --json, --resume): never saved, free to differ on resume.</summary>
    RunControl = 0,
    /// <summary>Part of the run: kept in a checkpoint's command line, so `--resume DIR` alone rebuilds it.</summary>
    Saved = 1,
    /// <summary>A config file or a sweep point may set it (config files hold the run, not where its output goes).</summary>
    Config = 2,
    /// <summary>Picks where the other options come from (--config, --sweep, --index): expanded, then dropped.</summary>
    Source = 4,
    /// <summary>Saved and settable by a config file: every option that shapes a run.</summary>
    Run = Saved | Config,
}

/// <summary>
/// One option of a gba command, declared once: its name and form, its help line, the smallest value a numeric
/// option takes (<see cref="Min"/>, checked whenever it is read), and for `gba train` where it may come from
/// (<see cref="Scope"/>), how it binds to <see cref="TrainerOptions"/> (<see cref="Bind"/>) and how it appears
/// in config.json's "options" (<see cref="Effective"/>, for the methods in <see cref="AppliesTo"/>). An option
/// several commands share is one instance (<see cref="SharedOptions"/>); a command may bind it or list it under
/// another help group with `with`, never redeclare it.
/// </summary>
/// <param name="Name">The name without dashes ("d-sae").</param>
/// <param name="Kind">Value, flag or repeatable list.</param>
/// <param name="Scope">What `gba train` saves and lets config files set (other commands have neither).</param>
/// <param name="Group">The heading it is listed under in help ("" to leave it out of the list).</param>
/// <param name="Value">The value's placeholder in help ("N", "f32|f16|bf16").</param>
/// <param name="Help">The help text; further lines continue it.</param>
public sealed record OptionSpec(string Name, OptionKind Kind, OptionScope Scope, string Group, string Value, string Help)
{
    /// <summary>"--name".</summary>
    public string Flag => "--" + Name;

    /// <summary>The key in config files, config.json and sweep files ("d_sae" for --d-sae).</summary>
    public string Key => Name.Replace('-', '_');

    /// <summary>How help shows it: "--name VALUE" or "--name".</summary>
    public string Usage => Kind == OptionKind.Flag ? Flag : $"{Flag} {Value}";

    /// <summary>The smallest value a numeric option accepts; reading a smaller one is a usage error naming the option.</summary>
    public double? Min { get; init; }

    /// <summary>Reads the option into the trainer settings (demo: the demo's defaults apply).</summary>
    public Func<OptionReader, bool, TrainerOptions, TrainerOptions>? Bind { get; init; }

    /// <summary>The resolved value recorded in config.json (defaults included, so a changed default does not change a repeat).</summary>
    public Func<TrainerOptions, JsonNode?>? Effective { get; init; }

    /// <summary>Methods whose config.json records this setting (other methods ignore it).</summary>
    public Func<TrainingMethod, bool> AppliesTo { get; init; } = _ => true;

    /// <summary>An option taking a value.</summary>
    public static OptionSpec Valued(string name, string group, string value, string help, OptionScope scope = OptionScope.RunControl) =>
        new(name, OptionKind.Value, scope, group, value, help);

    /// <summary>An option without a value.</summary>
    public static OptionSpec Switch(string name, string group, string help, OptionScope scope = OptionScope.RunControl) =>
        new(name, OptionKind.Flag, scope, group, "", help);
}
