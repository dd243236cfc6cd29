using BenchmarkDotNet.Running;
using GbaEngine.Benchmarks.Gemm;

// Side-by-side SGEMM ratios (ours vs OpenBLAS vs FMA peak): dotnet run -c Release --project Engine.Benchmarks -- --ratios --quick
if (args.Length > 0 && args[0] == "--ratios") return GemmRatios.Run(args[1..]);

// Training step vs its encoder product vs the PyTorch peer: dotnet run -c Release --project Engine.Benchmarks -- --step-ratios
if (args.Length > 0 && args[0] == "--step-ratios") return GbaEngine.Benchmarks.Training.StepRatios.Run(args[1..]);

// The fixed regression suite, as JSON: dotnet run -c Release --project Engine.Benchmarks -- --suite regression --quick --json-out run.json
// Bad input is one line on stderr and exit code 2 .
if (args.Length > 0 && args[0] is "--suite")
{
    try
    {
        return GbaEngine.Benchmarks.Regression.RegressionCommand.Run(args);
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
