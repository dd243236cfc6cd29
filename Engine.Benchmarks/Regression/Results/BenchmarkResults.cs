// The JSON a regression-suite run writes (`--json-out`) and `--compare` reads: one object per run
// with the machine fingerprint, the sampling design, and per entry its metric, unit, direction and
// every sample with both clocks, so a reader can recompute any statistic on either clock.
// Layout (snake_case): { format, suite, mode, created_utc, command, duration_seconds, clock, kernels,
// threads, machine {...}, design {...}, load {...}, entries: [ { name, metric, unit, direction,
// work_unit, work_per_op, kernels, threads, parameters {...}, samples: [ { round, ops, wall_seconds,
// cpu_seconds, value } ] } ] }.
using System.Text.Json.Serialization;

namespace GbaEngine.Benchmarks.Regression.Results;

/// <summary>One run of a benchmark suite.</summary>
internal sealed record BenchmarkResults
{
    /// <summary>The format this code writes and reads.</summary>
    public const string CurrentFormat = "gbaengine-benchmark-results/1";

    public string Format { get; init; } = CurrentFormat;
    /// <summary>Suite name ("regression").</summary>
    public required string Suite { get; init; }
    /// <summary>"quick" or "full": the sampling budget, never the workload.</summary>
    public required string Mode { get; init; }
    public required DateTime CreatedUtc { get; init; }
    public required string Command { get; init; }
    public required double DurationSeconds { get; init; }
    /// <summary>The clock each sample's <see cref="Sample.Value"/> was computed from (see <see cref="Clocks"/>).</summary>
    public required string Clock { get; init; }
    /// <summary>Kernel set the engine ran with (GBA_KERNELS or the best one supported).</summary>
    public required string Kernels { get; init; }
    public required int Threads { get; init; }
    public required MachineFingerprint Machine { get; init; }
    public required SamplingDesign Design { get; init; }
    public required MachineLoad Load { get; init; }
    public required IReadOnlyList<EntryResult> Entries { get; init; }
}

/// <summary>One benchmark of a run: what is measured, in which unit, which way is better, and every sample.</summary>
internal sealed record EntryResult
{
    /// <summary>Stable name: results of two runs are paired by it.</summary>
    public required string Name { get; init; }
    /// <summary>What the value is ("throughput").</summary>
    public required string Metric { get; init; }
    /// <summary>Unit of <see cref="Sample.Value"/>, e.g. "GFLOP/s (cpu clock)".</summary>
    public required string Unit { get; init; }
    /// <summary>"higher" or "lower": which way is better.</summary>
    public required string Direction { get; init; }
    /// <summary>Unit of the work one operation does ("GFLOP", "tokens", "GB").</summary>
    public required string WorkUnit { get; init; }
    public required double WorkPerOp { get; init; }
    public required string Kernels { get; init; }
    public required int Threads { get; init; }
    /// <summary>Shape, state and anything else that fixes the workload or describes its state (e.g. L0).</summary>
    public required IReadOnlyDictionary<string, string> Parameters { get; init; }
    public required IReadOnlyList<Sample> Samples { get; init; }
}

/// <summary>One timed sample: <see cref="Ops"/> operations back to back, on both clocks.</summary>
internal sealed record Sample
{
    /// <summary>Round of the interleaved schedule this sample was taken in (0-based, counted over all launches).</summary>
    public required int Round { get; init; }
    /// <summary>The process (launch) of the run that took it (0-based).</summary>
    public int Launch { get; init; }
    public required int Ops { get; init; }
    public required double WallSeconds { get; init; }
    /// <summary>Process CPU time (user + system, all threads) spent during the sample.</summary>
    public required double CpuSeconds { get; init; }
    /// <summary>The metric on the run's clock.</summary>
    public required double Value { get; init; }
}

/// <summary>How samples were taken (see <see cref="SuiteRunner"/>).</summary>
internal sealed record SamplingDesign
{
    /// <summary>Processes the rounds are spread over: state that is fixed for a process's life (where
    /// its memory and the files' pages landed) then varies within a run as it does between runs.</summary>
    public int Launches { get; init; } = 1;
    /// <summary>Rounds in all launches together.</summary>
    public required int Rounds { get; init; }
    public required int SamplesPerVisit { get; init; }
    /// <summary>Target length of one sample, in seconds of the run's clock per thread.</summary>
    public required double TargetSampleSeconds { get; init; }
    /// <summary>No round is started that would end after this many wall seconds from the start of the run (0: no limit), once <see cref="MinRounds"/> are done.</summary>
    public required double BudgetSeconds { get; init; }
    public required int MinRounds { get; init; }
    public required string Order { get; init; }
}

/// <summary>What the machine was doing around the run (it is shared: say so in the result).</summary>
internal sealed record MachineLoad
{
    /// <summary>1, 5 and 15-minute load averages at the start and at the end.</summary>
    public required double[] LoadAverageStart { get; init; }
    public required double[] LoadAverageEnd { get; init; }
    /// <summary>Linux CPU pressure (share of time some task waited for a CPU, 60 s average) at start and end; null where unavailable.</summary>
    public double? CpuPressureStart { get; init; }
    public double? CpuPressureEnd { get; init; }
}

/// <summary>The two clocks a sample is timed on.</summary>
internal static class Clocks
{
    /// <summary>Process CPU seconds divided by the entry's threads: the elapsed time the work would take if its
    /// threads were never descheduled (and never idle). Blind to time the scheduler gave to other tenants,
    /// and so also to work that stops running in parallel.</summary>
    public const string Cpu = "cpu";
    /// <summary>Elapsed seconds: what a user waits, and everything the neighbours do to it.</summary>
    public const string Wall = "wall";

    public static string Parse(string value, string flag) => value switch
    {
        Cpu or Wall => value,
        _ => throw new ArgumentException($"{flag} {value}: expected '{Cpu}' or '{Wall}'."),
    };

    /// <summary>Seconds of a sample on <paramref name="clock"/>, per thread for the CPU clock.</summary>
    public static double Seconds(Sample s, string clock, int threads) =>
        clock == Cpu ? s.CpuSeconds / threads : s.WallSeconds;

    /// <summary>Unit of a rate of <paramref name="workUnit"/> on <paramref name="clock"/>.</summary>
    public static string RateUnit(string workUnit, string clock) => $"{workUnit}/s ({clock} clock)";
}
