using GbaEngine.Benchmarks.Regression.Results;

namespace GbaEngine.Benchmarks.Tests;

/// <summary>Results files built from chosen sample values (no timing): the comparer's test inputs.</summary>
internal static class SyntheticResults
{
    public static MachineFingerprint Machine(string cpu = "Test CPU", string commit = "abc") => new()
    {
        CpuModel = cpu, CpuId = "26/2/1", LogicalCores = 2, IsaFlags = ["avx2", "avx512f", "fma"],
        Os = "Linux", Dotnet = ".NET 10.0.0", Commit = commit,
    };

    /// <summary>Samples whose throughput on both clocks is <paramref name="values"/> (1 op of 1 unit, 1 thread).</summary>
    public static EntryResult Entry(string name, IEnumerable<double> values, string metric = "throughput", IEnumerable<double>? wallValues = null,
        int samplesPerRound = 1)
    {
        var v = values.ToArray();
        var w = wallValues?.ToArray() ?? v;
        var samples = v.Select((value, i) =>
        {
            // throughput = work / seconds with work 1; time = seconds / op.
            double Seconds(double x) => metric == "throughput" ? 1 / x : x;
            return new Sample { Round = i / samplesPerRound, Ops = 1, CpuSeconds = Seconds(value), WallSeconds = Seconds(w[i]), Value = value };
        }).ToList();
        return new EntryResult
        {
            Name = name, Metric = metric, Unit = "units/s (cpu clock)", Direction = metric == "throughput" ? "higher" : "lower",
            WorkUnit = "units", WorkPerOp = 1, Kernels = "avx512", Threads = 1, Parameters = new Dictionary<string, string>(), Samples = samples,
        };
    }

    public static BenchmarkResults Run(IEnumerable<EntryResult> entries, MachineFingerprint? machine = null, string kernels = "avx512") => new()
    {
        Suite = "regression", Mode = "quick", CreatedUtc = new DateTime(2026, 12, 3, 0, 0, 0, DateTimeKind.Utc), Command = "test",
        DurationSeconds = 1, Clock = Clocks.Cpu, Kernels = kernels, Threads = 1, Machine = machine ?? Machine(),
        Design = new SamplingDesign { Rounds = 15, MinRounds = 6, SamplesPerVisit = 1, TargetSampleSeconds = 0.1, BudgetSeconds = 90, Order = "test" },
        Load = new MachineLoad { LoadAverageStart = [1, 1, 1], LoadAverageEnd = [1, 1, 1] },
        Entries = entries.ToList(),
    };

    /// <summary>Log-normal values around <paramref name="median"/> with relative spread <paramref name="spread"/>, seeded.</summary>
    public static double[] Noisy(double median, double spread, int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            // Box-Muller: one standard normal per value.
            double z = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            return median * Math.Exp(spread * z);
        }).ToArray();
    }
}
