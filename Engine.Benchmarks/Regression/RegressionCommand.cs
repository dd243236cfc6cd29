// `Engine.Benchmarks --suite regression [--quick] --json-out FILE`: builds the fixed suite, samples
// it (SuiteRunner), writes every sample with the machine fingerprint as JSON and prints a summary.
using System.Diagnostics;
using System.Globalization;
using GbaEngine.Benchmarks.Regression.Results;
using GbaEngine.Kernels;

namespace GbaEngine.Benchmarks.Regression;

using static BenchmarkSupport;

internal static class RegressionCommand
{
    public const string Usage = """
        --suite regression [--quick] --json-out FILE [--threads N] [--clock cpu|wall] [--rounds N]
                           [--samples-per-visit N] [--target-ms N] [--budget-s N]
          Runs the fixed regression suite and writes every sample as JSON (compare two with --compare).
          --quick: at most 15 rounds of ~0.1 s samples and 75 s of sampling (under 3 min in all, scalar
          kernels included); otherwise 40 rounds of ~0.25 s samples. The workload is the same either way.
          GBA_KERNELS=scalar|avx2|avx512 picks the kernel set under test.
        """;

    public static int Run(string[] args)
    {
        string suite = Value(args, "--suite") ?? throw new ArgumentException("--suite: expected a suite name (regression).");
        if (suite != RegressionSuite.Name) throw new ArgumentException($"--suite {suite}: the only suite is '{RegressionSuite.Name}'.");
        string output = Value(args, "--json-out") ?? throw new ArgumentException("--json-out FILE is required: where the results go.");
        bool quick = args.Contains("--quick");
        int Int(string flag, int fallback)
        {
            if (Value(args, flag) is not { } v) return fallback;
            if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new ArgumentException($"{flag} {v}: expected a positive whole number.");
            return n;
        }
        string clock = Clocks.Parse(Value(args, "--clock") ?? Clocks.Cpu, "--clock");
        int threads = Int("--threads", Environment.ProcessorCount);
        var design = new SamplingDesign
        {
            Rounds = Int("--rounds", quick ? 15 : 40),
            MinRounds = Math.Min(6, Int("--rounds", quick ? 15 : 40)),
            SamplesPerVisit = Int("--samples-per-visit", 1),
            TargetSampleSeconds = Int("--target-ms", quick ? 100 : 250) / 1000.0,
            BudgetSeconds = Int("--budget-s", quick ? 75 : int.MaxValue) is var b && b == int.MaxValue ? 0 : b,
            Order = "interleaved rounds, one visit per entry per round, each round starting one entry later",
        };

        var log = Console.Error;
        var started = DateTime.UtcNow;
        var clockStart = Stopwatch.StartNew();
        var loadStart = MachineLoadProbe.LoadAverage();
        var pressureStart = MachineLoadProbe.CpuPressure();
        var machine = MachineFingerprint.Capture();
        string kernels = KernelSelector.Current.ToString().ToLowerInvariant();
        log.WriteLine($"suite {suite} ({(quick ? "quick" : "full")}), kernels {kernels}, {threads} thread(s), {clock} clock, commit {machine.Commit}");

        var directory = Directory.CreateTempSubdirectory("gba-regression-").FullName;
        List<RegressionEntry> entries = [];
        try
        {
            entries = RegressionSuite.Build(threads, directory, log);
            var measured = new SuiteRunner(design, clock, log).Run(entries);
            var results = new BenchmarkResults
            {
                Suite = suite,
                Mode = quick ? "quick" : "full",
                CreatedUtc = started,
                Command = "Engine.Benchmarks " + string.Join(' ', args),
                DurationSeconds = clockStart.Elapsed.TotalSeconds,
                Clock = clock,
                Kernels = kernels,
                Threads = threads,
                Machine = machine,
                Design = design,
                Load = new MachineLoad
                {
                    LoadAverageStart = loadStart, LoadAverageEnd = MachineLoadProbe.LoadAverage(),
                    CpuPressureStart = pressureStart, CpuPressureEnd = MachineLoadProbe.CpuPressure(),
                },
                Entries = measured.Select(m => new EntryResult
                {
                    Name = m.Entry.Name,
                    Metric = "throughput",
                    Unit = Clocks.RateUnit(m.Entry.WorkUnit, clock),
                    Direction = "higher",
                    WorkUnit = m.Entry.WorkUnit,
                    WorkPerOp = m.Entry.WorkPerOp,
                    Kernels = kernels,
                    Threads = m.Entry.Threads,
                    Parameters = m.Entry.Parameters,
                    Samples = m.Samples,
                }).ToList(),
            };
            ResultsFile.Write(output, results);
            PrintSummary(results);
            log.WriteLine($"wrote {output} ({results.DurationSeconds:F0} s)");
            return 0;
        }
        finally
        {
            foreach (var e in entries) e.Dispose();
            Directory.Delete(directory, recursive: true);
        }
    }

    static void PrintSummary(BenchmarkResults r)
    {
        Console.WriteLine($"| entry | unit | median | min | max | samples | spread (IQR / median) |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var e in r.Entries)
        {
            var v = e.Samples.Select(s => s.Value).Order().ToArray();
            double q1 = Quantile(v, 0.25), q3 = Quantile(v, 0.75), med = Quantile(v, 0.5);
            Console.WriteLine($"| {e.Name} | {e.Unit} | {med:G4} | {v[0]:G4} | {v[^1]:G4} | {v.Length} | {(q3 - q1) / med:P1} |");
        }
    }

    /// <summary>Linear-interpolated quantile of sorted values.</summary>
    public static double Quantile(double[] sorted, double q)
    {
        double pos = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(pos), hi = (int)Math.Ceiling(pos);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
    }
}
