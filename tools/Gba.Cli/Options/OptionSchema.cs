using System.Text;

namespace GbaEngine.Cli.Options;

/// <summary>
/// Every option of one gba command, each declared once as an <see cref="OptionSpec"/>, and what is derived from
/// them: the parser (<see cref="Read"/>: which names take a value, which are flags, which repeat; an unknown or
/// malformed option is one usage error), the checks made when a value is read (minimums, required options, options
/// of another mode), and the command's help (<see cref="Help"/>: summary, usage lines, the options by group, notes).
/// `gba --help` lists the commands by their <see cref="Summary"/>.
/// </summary>
public sealed record OptionSchema
{
    /// <summary>--help, which every command takes ("-h" is its short form).</summary>
    public static readonly OptionSpec HelpOption = OptionSpec.Switch("help", "", "this text");

    /// <param name="command">The command's name ("eval").</param>
    /// <param name="summary">One line: what the command does (help's title and `gba --help`'s list).</param>
    /// <param name="options">Its options in help order; --help is added.</param>
    public OptionSchema(string command, string summary, IReadOnlyList<OptionSpec> options)
    {
        Command = command;
        Summary = summary;
        Options = options.Any(o => o.Name == HelpOption.Name) ? options : [.. options, HelpOption];
        var duplicate = Options.GroupBy(o => o.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"gba {command} declares --{duplicate.Key} twice.");
        ByFlag = Options.ToDictionary(o => o.Flag);
        ValueOptions = Options.Where(s => s.Kind != OptionKind.Flag).Select(s => s.Flag).ToHashSet();
        Flags = Options.Where(s => s.Kind == OptionKind.Flag).Select(s => s.Flag).Append("-h").ToHashSet();
        Repeatable = Options.Where(s => s.Kind == OptionKind.List).Select(s => s.Flag).ToHashSet();
    }

    /// <summary>The command's name.</summary>
    public string Command { get; init; }

    /// <summary>What it does, in one line.</summary>
    public string Summary { get; init; }

    /// <summary>The usage lines after "gba COMMAND " (arguments and the options that matter most).</summary>
    public IReadOnlyList<string> Usage { get; init; } = [];

    /// <summary>Text after the options (definitions, examples).</summary>
    public string Notes { get; init; } = "";

    /// <summary>Every option, --help included.</summary>
    public IReadOnlyList<OptionSpec> Options { get; }

    Dictionary<string, OptionSpec> ByFlag { get; }

    /// <summary>Options followed by a value (lists included).</summary>
    public IReadOnlySet<string> ValueOptions { get; }

    /// <summary>Options without a value ("-h" included).</summary>
    public IReadOnlySet<string> Flags { get; }

    /// <summary>Options that may be given more than once.</summary>
    public IReadOnlySet<string> Repeatable { get; }

    /// <summary>Parses <paramref name="args"/> against these options.</summary>
    public OptionReader Read(IReadOnlyList<string> args) => new(this, args);

    /// <summary>The option "--name"; asking for one the command does not declare is a programming error.</summary>
    public OptionSpec Spec(string flag) =>
        ByFlag.TryGetValue(flag, out var spec) ? spec : throw new InvalidOperationException($"gba {Command} reads {flag}, which it does not declare.");

    /// <summary>Whether the command declares "--name".</summary>
    public bool Declares(string flag) => ByFlag.ContainsKey(flag);

    /// <summary>The help text: summary, usage, the options under their groups, notes.</summary>
    public string Help()
    {
        var w = new StringBuilder();
        w.Append("gba ").Append(Command).Append(": ").Append(Summary).Append("\n\n");
        for (int i = 0; i < Usage.Count; i++)
            w.Append(i == 0 ? "Usage: " : "       ").Append("gba ").Append(Command).Append(' ').Append(Usage[i]).Append('\n');
        if (Usage.Count > 0) w.Append('\n');
        w.Append(OptionsHelp());
        if (Notes.Length > 0) w.Append('\n').Append(Notes.TrimEnd()).Append('\n');
        w.Append('\n');
        return w.ToString();
    }

    /// <summary>The options section: one entry per option under its group, continuation lines aligned.</summary>
    public string OptionsHelp()
    {
        var listed = Options.Where(s => s.Group.Length > 0).ToList();
        int column = Math.Min(44, listed.Select(s => s.Usage.Length).DefaultIfEmpty(0).Max());
        var w = new StringBuilder();
        foreach (var group in listed.GroupBy(s => s.Group))
        {
            w.Append(group.Key).Append(":\n");
            foreach (var s in group)
            {
                var lines = s.Help.Split('\n');
                w.Append("  ").Append(s.Usage.PadRight(column)).Append(' ').Append(lines[0]).Append('\n');
                foreach (var more in lines.Skip(1)) w.Append(' ', column + 3).Append(more).Append('\n');
            }
        }
        return w.ToString();
    }
}
