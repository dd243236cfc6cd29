using GbaEngine.Cli.Commands;
using GbaEngine.Cli.Options;
using GbaEngine.Formats;

namespace GbaEngine.Cli;

/// <summary>
/// Entry point shared by the executable and the in-process CLI tests. Exit codes scripts can trust:
/// 0 success, 1 the work failed (bad data, I/O), 2 bad usage, 130 interrupted.
/// </summary>
public static class CliApp
{
    public const int Ok = 0, Failed = 1, Usage = 2, Interrupted = 130;

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.Write(HelpText);
            return args.Length == 0 ? Usage : Ok;
        }
        var rest = args.Skip(1).ToArray();
        try
        {
            return args[0] switch
            {
                "demo" => TrainCommand.Run("demo", rest, stdout, stderr),
                "train" => TrainCommand.Run("train", rest, stdout, stderr),
                "inspect" => InspectCommand.Run(rest, stdout, stderr),
                "synth" => SynthCommand.Run(rest, stdout, stderr),
                "compare" => CompareCommand.Run(rest, stdout, stderr),
                "report" => ReportCommand.Run(rest, stdout, stderr),
                "sweep" => SweepCommand.Run(rest, stdout, stderr),
                "eval" => EvalCommand.Run(rest, stdout, stderr),
                "encode" => EncodeCommand.Run(rest, stdout, stderr),
                "features" => FeaturesCommand.Run(rest, stdout, stderr),
                "select" => SelectCommand.Run(rest, stdout, stderr),
                "experiment" => ExperimentCommand.Run(rest, stdout, stderr),
                "--version" => Version(stdout),
                _ => Unknown(args[0], stderr),
            };
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
                                   or ActivationFormatException or InvalidOperationException or NotSupportedException)
        {
            stderr.WriteLine($"gba {args[0]}: {e.Message}");
            return Failed;
        }
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

    public const string HelpText = """
        gba: train and run sparse autoencoders with Group Bias Adaptation (GBA)

        Usage: gba <command> [options]

        Commands:
          demo     train GBA on the embedded synthetic default and print the metrics
          train    train an SAE on activation files (--data) or synthetic data from the paper's model
          inspect  shape, dtype, norms, variance outliers and NaN/inf counts of activation files
          synth    write a synthetic dataset (activations .npy, true features .npy, generator spec .json)
          report   one self-contained HTML report with SVG plots of a run directory
          compare  MCS consistency between the SAEs of two or more runs
          sweep    expand a grid of runs (gba train --sweep FILE --index I runs one), run or summarize them
          eval     MSE, FVU, L0 and dead fraction of a trained SAE (this engine's, SAELens, sparsify) on activation files
          encode   activations -> sparse feature codes (one safetensors file in CSR form) through a trained SAE
          features a corpus feature table: frequency, max, top and quantile examples in context, per feature (JSON)
          select   the corpus sentences most similar to target examples in SAE feature space (JSONL)
          experiment  reproduce the paper's claims (recovery, resonance, frequency, heterogeneous, consistency, frontier)

        Run 'gba <command> --help' for a command's options.

        """;
}
