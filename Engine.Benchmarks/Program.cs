using BenchmarkDotNet.Running;
using GbaEngine.Benchmarks.Gemm;

// Side-by-side SGEMM ratios (ours vs OpenBLAS vs FMA peak): dotnet run -c Release --project Engine.Benchmarks -- --ratios --quick
if (args.Length > 0 && args[0] == "--ratios") return GemmRatios.Run(args[1..]);

// Training step vs its encoder product vs the PyTorch peer: dotnet run -c Release --project Engine.Benchmarks -- --step-ratios
if (args.Length > 0 && args[0] == "--step-ratios") return GbaEngine.Benchmarks.Training.StepRatios.Run(args[1..]);

// The sparse passes of a step with several neuron-block sizes: ... -- --sparse-blocks --block-kib 448,896,1792
if (args.Length > 0 && args[0] == "--sparse-blocks") return GbaEngine.Benchmarks.Training.SparseBlockRatios.Run(args[1..]);

// The fixed regression suite, as JSON: dotnet run -c Release --project Engine.Benchmarks -- --suite regression --quick --json-out run.json
// Two suite results against each other, the regression gate: ... -- --compare base.json new.json --threshold 5%
// One line per recorded run into a history file: ... -- --history-append run.json benchmarks/history/regression.jsonl
// Each entry's throughput over the recorded runs, as SVG: ... -- --history-chart benchmarks/history/regression.jsonl benchmarks/history
// Bad input is one line on stderr and exit code 2 (1 is the gate's "regression").
if (args.Length > 0 && args[0] is "--suite" or "--suite-launch" or "--compare" or "--history-append" or "--history-chart")
{
    try
    {
        return args[0] switch
        {
            "--suite" => GbaEngine.Benchmarks.Regression.RegressionCommand.Run(args),
            "--suite-launch" => GbaEngine.Benchmarks.Regression.RegressionCommand.RunLaunch(args),   // one launch, started by --suite
            "--compare" => GbaEngine.Benchmarks.Regression.Compare.CompareCommand.Run(args),
            "--history-append" => GbaEngine.Benchmarks.Regression.HistoryCommand.Append(args),
            _ => GbaEngine.Benchmarks.Regression.HistoryCommand.Chart(args),
        };
    }
    catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or InvalidOperationException)
    {
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
}

// The machine fingerprint results files carry, as JSON (tools/bench/run-benchmarks.sh records it): -- --fingerprint
if (args.Length > 0 && args[0] == "--fingerprint")
{
    Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(GbaEngine.Benchmarks.Regression.Results.MachineFingerprint.Capture(),
        new System.Text.Json.JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower }));
    return 0;
}

// Allreduce time per message size under MPI: mpirun -np 2 dotnet Engine.Benchmarks.dll --allreduce
if (args.Length > 0 && args[0] == "--allreduce") return GbaEngine.Benchmarks.Distributed.AllreduceLatency.Run(args[1..]);

// Whole GBA steps, one process or sharded: [mpirun -np 2] dotnet Engine.Benchmarks.dll --sharded-step --threads T
if (args.Length > 0 && args[0] == "--sharded-step") return GbaEngine.Benchmarks.Distributed.ShardedStep.Run(args[1..]);

// Run one family: dotnet run -c Release --project Engine.Benchmarks -- --filter '*Gemm*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
