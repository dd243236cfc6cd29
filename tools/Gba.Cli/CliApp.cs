using System.Globalization;
using GbaEngine.Cli.Commands;
using GbaEngine.Cli.Options;
using GbaEngine.Formats;
using GbaEngine.Training;

namespace GbaEngine.Cli;

/// <summary>
/// Entry point shared by the executable and the in-process CLI tests. Exit codes scripts can trust:
/// 0 success, 1 the work failed (bad data, I/O), 2 bad usage, 130 interrupted.
/// </summary>
public static class CliApp
{
    public const int Ok = 0, Failed = 1, Usage = 2, Interrupted = 130;

    /// <summary>A command: its options (<see cref="OptionSchema"/>: parsing, help, checks) and what it does with them.</summary>
    /// <param name="Run">Given the parsed options and the arguments they came from (a checkpoint saves those).</param>
    public sealed record Command(OptionSchema Schema, Func<OptionReader, IReadOnlyList<string>, TextWriter, TextWriter, int> Run);

    /// <summary>Every command, in the order `gba --help` lists them.</summary>
    public static readonly IReadOnlyList<Command> Commands =
    [
        new(TrainOptions.DemoSchema, (o, args, stdout, stderr) => TrainCommand.Run("demo", o, args, stdout, stderr)),
        new(TrainOptions.Schema, (o, args, stdout, stderr) => TrainCommand.Run("train", o, args, stdout, stderr)),
        new(InspectCommand.Schema, (o, _, stdout, stderr) => InspectCommand.Run(o, stdout, stderr)),
        new(SynthCommand.Schema, (o, _, stdout, stderr) => SynthCommand.Run(o, stdout, stderr)),
        new(ReportCommand.Schema, (o, _, stdout, stderr) => ReportCommand.Run(o, stdout, stderr)),
        new(CompareCommand.Schema, (o, _, stdout, stderr) => CompareCommand.Run(o, stdout, stderr)),
        new(SweepCommand.Schema, (o, _, stdout, stderr) => SweepCommand.Run(o, stdout, stderr)),
        new(EvalCommand.Schema, (o, _, stdout, stderr) => EvalCommand.Run(o, stdout, stderr)),
        new(EncodeCommand.Schema, (o, _, stdout, stderr) => EncodeCommand.Run(o, stdout, stderr)),
        new(FeaturesCommand.Schema, (o, _, stdout, stderr) => FeaturesCommand.Run(o, stdout, stderr)),
        new(SelectCommand.Schema, (o, _, stdout, stderr) => SelectCommand.Run(o, stdout, stderr)),
        new(HarvestCommand.Schema, (o, _, stdout, stderr) => HarvestCommand.Run(o, stdout, stderr)),
        new(ExperimentCommand.Schema, (o, _, stdout, stderr) => ExperimentCommand.Run(o, stdout, stderr)),
    ];

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.Write(HelpText);
            return args.Length == 0 ? Usage : Ok;
        }
        if (args[0] == "--version") return Version(stdout);
        var command = Commands.FirstOrDefault(c => c.Schema.Command == args[0]);
        if (command is null) return Unknown(args[0], stderr);
        var rest = args.Skip(1).ToArray();
        try
        {
            var o = command.Schema.Read(rest);
            if (o.HelpRequested)
            {
                stdout.Write(command.Schema.Help());
                return Ok;
            }
            return command.Schema.Options.Contains(SharedOptions.Quiet) && o.Flag(SharedOptions.Quiet.Flag)
                ? RunQuietly(command, o, rest, stdout, stderr)
                : command.Run(o, rest, stdout, stderr);
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"gba {args[0]}: {e.Message}");
            return Usage;
        }
        catch (OperationCanceledException)
        {
            stderr.WriteLine($"gba {args[0]}: interrupted");
            return Interrupted;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or FormatException
                                   or ActivationFormatException or InvalidOperationException or NotSupportedException or TrainingDivergedException)
        {
            stderr.WriteLine($"gba {args[0]}: {FlagTerms.Message(e)}");
            return Failed;
        }
    }

    /// <summary>
    /// --quiet: a command that succeeds prints nothing but, with --json, its JSON object (the last line of what it
    /// wrote); progress, notes, warnings and tables are dropped. Errors still reach stderr: a thrown one through
    /// <see cref="Run"/>, and a command that reports its own failure by its exit code (a sweep with failed runs,
    /// an interrupted run telling how to resume) has everything it wrote passed on.
    /// </summary>
    static int RunQuietly(Command command, OptionReader o, string[] rest, TextWriter stdout, TextWriter stderr)
    {
        using StringWriter said = new(CultureInfo.InvariantCulture), noted = new(CultureInfo.InvariantCulture);
        int code = command.Run(o, rest, said, noted);
        if (code != Ok)
        {
            stdout.Write(said.ToString());
            stderr.Write(noted.ToString());
        }
        else if (command.Schema.Options.Contains(SharedOptions.Json) && o.Flag(SharedOptions.Json.Flag))
        {
            string last = said.ToString().TrimEnd().Split('\n')[^1].Trim();
            if (!last.StartsWith('{')) throw new InvalidOperationException($"gba {command.Schema.Command} --json wrote no JSON object last");
            stdout.WriteLine(last);
        }
        return code;
    }

    static int Version(TextWriter stdout)
    {
        stdout.WriteLine($"gba {typeof(CliApp).Assembly.GetName().Version} (GbaEngine, .NET {Environment.Version}, kernels {Kernels.KernelSelector.Current})");
        return Ok;
    }

    static int Unknown(string command, TextWriter stderr)
    {
        stderr.WriteLine($"gba: unknown command '{command}' (run 'gba --help' for the list)");
        return Usage;
    }

    /// <summary>`gba --help`: the commands, each with its schema's summary.</summary>
    public static string HelpText { get; } =
        "gba: train and run sparse autoencoders with Group Bias Adaptation (GBA)\n\n" +
        "Usage: gba <command> [options]\n\n" +
        "Commands:\n" +
        string.Concat(Commands.Select(c => $"  {c.Schema.Command,-10} {c.Schema.Summary.Replace("\n", "\n" + new string(' ', 13))}\n")) +
        "\nRun 'gba <command> --help' for a command's options.\n\n";
}
