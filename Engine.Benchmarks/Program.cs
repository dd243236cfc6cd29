using BenchmarkDotNet.Running;
using GbaEngine.Benchmarks.Gemm;

// Side-by-side SGEMM ratios (ours vs OpenBLAS vs FMA peak): dotnet run -c Release --project Engine.Benchmarks -- --ratios --quick
if (args.Length > 0 && args[0] == "--ratios") return GemmRatios.Run(args[1..]);

// Training step vs its encoder product vs the PyTorch peer: dotnet run -c Release --project Engine.Benchmarks -- --step-ratios
if (args.Length > 0 && args[0] == "--step-ratios") return GbaEngine.Benchmarks.Training.StepRatios.Run(args[1..]);

// Allreduce time per message size under MPI: mpirun -np 2 dotnet Engine.Benchmarks.dll --allreduce
if (args.Length > 0 && args[0] == "--allreduce") return GbaEngine.Benchmarks.Distributed.AllreduceLatency.Run(args[1..]);

// Run one family: dotnet run -c Release --project Engine.Benchmarks -- --filter '*Gemm*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
