using BenchmarkDotNet.Running;
using GbaEngine.Benchmarks.Gemm;

// Side-by-side SGEMM ratios (ours vs OpenBLAS vs FMA peak): dotnet run -c Release --project Engine.Benchmarks -- --ratios --quick
if (args.Length > 0 && args[0] == "--ratios") return GemmRatios.Run(args[1..]);

// Training step vs its encoder product vs the PyTorch peer: dotnet run -c Release --project Engine.Benchmarks -- --step-ratios
if (args.Length > 0 && args[0] == "--step-ratios") return GbaEngine.Benchmarks.Training.StepRatios.Run(args[1..]);

// The fixed regression suite, as JSON: dotnet run -c Release --project Engine.Benchmarks -- --suite regression --quick --json-out run.json
// Two suite results against each other, the regression gate: ... -- --compare base.json new.json --threshold 5%
// Bad input is one line on stderr and exit code 2 (1 is the gate's "regression").
if (args.Length > 0 && args[0] is "--suite" or "--compare")
{
    try
    {
        return args[0] == "--suite"
            ? GbaEngine.Benchmarks.Regression.RegressionCommand.Run(args)
            : GbaEngine.Benchmarks.Regression.Compare.CompareCommand.Run(args);
    }
    catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
}

// Run one family: dotnet run -c Release --project Engine.Benchmarks -- --filter '*Gemm*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
