using BenchmarkDotNet.Running;

// Run one family: dotnet run -c Release --project Engine.Benchmarks -- --filter '*Gemm*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
