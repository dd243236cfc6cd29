// The sampler of the regression suite. Its design answers the one question a regression tracker
// must get right on a shared machine: are two runs of the same build told apart? Three choices
// keep them together (measured: docs/performance.md, "Regression tracking"):
// - The CPU clock. A sample is timed by the process's CPU time (divided by the entry's threads) as
//   well as by the wall clock. On this 2-core machine shared with other builds, wall times of one
//   SGEMM spread 2x within a minute while its CPU time spread about 10%: the scheduler handing our
//   cores to a neighbour costs wall time, not CPU time.
// - Interleaving. Samples are taken in rounds, one visit per entry per round, each round starting one
//   entry later, so every entry's samples span the whole run and a neighbour that is busy for a
//   minute slows a little of every entry instead of all of one.
// - Fixed work per sample. Every sample of an entry runs the same number of operations from the same
//   state (Reset), chosen once so a sample lasts about the target time; a sample is never cut short.
using System.Diagnostics;
using GbaEngine.Benchmarks.Regression.Results;

namespace GbaEngine.Benchmarks.Regression;

internal sealed class SuiteRunner(SamplingDesign design, string clock, TextWriter log)
{
    /// <summary>Most operations one sample may take (keeps tiny operations from a huge count).</summary>
    const int MaxOpsPerSample = 10_000;
    /// <summary>Warm-up before calibration: the JIT's tier-up threshold in calls, and a cap in seconds for slow operations.</summary>
    const int WarmUpCalls = 30;
    const double WarmUpSeconds = 0.25;

    sealed class Plan(RegressionEntry entry)
    {
        public RegressionEntry Entry { get; } = entry;
        public int OpsPerSample { get; set; } = 1;
        /// <summary>An untimed operation before a visit's samples, bringing caches back to this entry's data.</summary>
        public bool WarmEachVisit { get; set; }
        public List<Sample> Samples { get; } = [];
    }

    /// <summary>One launch's share of a run: its rounds (numbered from <paramref name="FirstRound"/>), the
    /// fewest it takes whatever the time, and the wall second (on the launch's clock) after which no round may end.</summary>
    public sealed record LaunchPlan(int Launch, int FirstRound, int Rounds, int MinRounds, double DeadlineSeconds);

    /// <summary>Calibrates every entry, then samples them in interleaved rounds until the plan's rounds are
    /// done or, past its minimum, the next round would end after its deadline.</summary>
    public List<(RegressionEntry Entry, List<Sample> Samples)> Run(IReadOnlyList<RegressionEntry> entries, LaunchPlan plan, Stopwatch started)
    {
        var plans = entries.Select(e => new Plan(e)).ToList();
        foreach (var p in plans) Calibrate(p);

        double lastRound = 0;
        for (int i = 0; i < plan.Rounds; i++)
        {
            int r = plan.FirstRound + i;
            double now = started.Elapsed.TotalSeconds;
            if (i >= plan.MinRounds && now + lastRound > plan.DeadlineSeconds)
            {
                log.WriteLine($"launch {plan.Launch}: time is up after {i} rounds");
                break;
            }
            for (int j = 0; j < plans.Count; j++)
            {
                var p = plans[(r + j) % plans.Count];
                if (p.WarmEachVisit)
                {
                    p.Entry.Reset();
                    p.Entry.Run();
                }
                for (int k = 0; k < design.SamplesPerVisit; k++) p.Samples.Add(Measure(p, r) with { Launch = plan.Launch });
            }
            lastRound = started.Elapsed.TotalSeconds - now;
            log.WriteLine($"launch {plan.Launch}: round {r + 1} done at {started.Elapsed.TotalSeconds:F0} s");
        }
        return plans.Select(p => (p.Entry, p.Samples)).ToList();
    }

    void Calibrate(Plan p)
    {
        var e = p.Entry;
        // Untimed operations until the JIT has promoted what the entry calls (30 calls by default) or
        // the entry has had WarmUpSeconds, at least one (first touch of buffers), then one timed. An
        // operation slower than WarmUpSeconds gets one untimed call only: its inner calls have tiered up
        // within it, and a second (~0.25 s each with the scalar kernels, 13 entries, every launch) was
        // what kept a quick scalar run from finishing in 3 minutes on a loaded machine.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 1 || (i < WarmUpCalls && warm.Elapsed.TotalSeconds < WarmUpSeconds); i++)
        {
            e.Reset();
            e.Run();
        }
        e.Reset();
        Collect();
        var one = Time(e, 1);
        double op = Clocks.Seconds(one, clock, e.Threads);
        p.OpsPerSample = (int)Math.Clamp(Math.Round(design.TargetSampleSeconds / Math.Max(op, 1e-9)), 1, MaxOpsPerSample);
        p.WarmEachVisit = op < design.TargetSampleSeconds / 4;
        log.WriteLine($"{e.Name}: {op * 1e3:F1} ms per op ({clock} clock), {p.OpsPerSample} op(s) per sample");
    }

    Sample Measure(Plan p, int round)
    {
        p.Entry.Reset();
        Collect();
        var s = Time(p.Entry, p.OpsPerSample) with { Round = round };
        double work = p.Entry.WorkPerOp * s.Ops;
        return s with { Value = work / Clocks.Seconds(s, clock, p.Entry.Threads) };
    }

    /// <summary>A full blocking collection before every sample: each sample then pays only for the garbage
    /// its own operations make, not for what earlier entries left (with the non-concurrent GC and
    /// RetainVM of Engine.Benchmarks.csproj, that work runs on the allocating thread into memory the
    /// process already has: a checkpoint read's CPU time varied 5x with the heap's history before).</summary>
    static void Collect() => GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);

    static Sample Time(RegressionEntry e, int ops)
    {
        var cpu0 = Environment.CpuUsage.TotalTime;
        long t0 = Stopwatch.GetTimestamp();
        for (int i = 0; i < ops; i++) e.Run();
        double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        double cpu = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds;
        return new Sample { Round = 0, Ops = ops, WallSeconds = wall, CpuSeconds = cpu, Value = 0 };
    }
}
