// BenchmarkDotNet's view of the regression suite's entries (the alternative to SuiteRunner that
// docs/performance.md compares it with): the same workloads, one benchmark case per entry, each
// invocation one sample of about 0.1 s (the entry's operations, from its fixed state), on two jobs:
// the default wall clock and a process-CPU-time clock. BenchmarkDotNet runs each case to completion
// before the next, forcing a GC before every iteration; its full JSON exporter keeps every measurement.
//   dotnet run -c Release --project Engine.Benchmarks -- --filter '*RegressionSuiteBenchmarks*' --exporters fulljson
// GBA_REGRESSION_ENTRIES (comma-separated names) limits the cases.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;

namespace GbaEngine.Benchmarks.Regression;

[Config(typeof(Config))]
public class RegressionSuiteBenchmarks
{
    public static IEnumerable<string> Entries() =>
        Environment.GetEnvironmentVariable("GBA_REGRESSION_ENTRIES")?.Split(',', StringSplitOptions.RemoveEmptyEntries) ?? RegressionSuite.Names;

    [ParamsSource(nameof(Entries))]
    public string Entry { get; set; } = RegressionSuite.Names[0];

    // Built once per process: BenchmarkDotNet calls the global setup per case, and the trainer warm-ups
    // behind most entries take seconds.
    static List<RegressionEntry>? _suite;
    static readonly string Directory = CreateDirectory();

    static string CreateDirectory()
    {
        var path = System.IO.Directory.CreateTempSubdirectory("gba-regression-bdn-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => System.IO.Directory.Delete(path, recursive: true);
        return path;
    }

    RegressionEntry _entry = null!;
    int _ops;

    [GlobalSetup]
    public void Setup()
    {
        if (_suite is null)
        {
            var files = new Entries.SuiteFiles(Directory);
            files.Prepare(Environment.ProcessorCount, TextWriter.Null);
            _suite = RegressionSuite.Build(Environment.ProcessorCount, files, Directory, TextWriter.Null, name => Entries().Contains(name));
        }
        _entry = _suite.Single(e => e.Name == Entry);
        // As SuiteRunner: operations per invocation so one lasts about 0.1 s (CPU seconds per thread).
        _entry.Reset();
        _entry.Run();
        _entry.Reset();
        var cpu0 = Environment.CpuUsage.TotalTime;
        _entry.Run();
        double op = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds / _entry.Threads;
        _ops = (int)Math.Clamp(Math.Round(0.1 / Math.Max(op, 1e-9)), 1, 10_000);
    }

    [IterationSetup]
    public void Reset() => _entry.Reset();

    [Benchmark]
    public void Sample()
    {
        for (int i = 0; i < _ops; i++) _entry.Run();
    }

    sealed class Config : ManualConfig
    {
        public Config()
        {
            // One invocation per iteration (the iteration setup restores the entry's state), 15 iterations.
            var job = Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithWarmupCount(2).WithIterationCount(15).WithInvocationCount(1).WithUnrollFactor(1);
            AddJob(job.WithId("wall"));
            AddJob(job.WithClock(new ProcessCpuClock()).WithId("cpu"));
        }
    }

    /// <summary>Process CPU time as a BenchmarkDotNet clock (100 ns ticks).</summary>
    sealed class ProcessCpuClock : IClock
    {
        public string Title => "Process CPU time";
        public bool IsAvailable => true;
        public Frequency Frequency => new(TimeSpan.TicksPerSecond);
        public long GetTimestamp() => Environment.CpuUsage.TotalTime.Ticks;
    }
}
