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

    sealed class Plan(RegressionEntry entry)
    {
        public RegressionEntry Entry { get; } = entry;
        public int OpsPerSample { get; set; } = 1;
        /// <summary>An untimed operation before a visit's samples, bringing caches back to this entry's data.</summary>
        public bool WarmEachVisit { get; set; }
        public List<Sample> Samples { get; } = [];
    }

    /// <summary>Calibrates every entry, then samples them in interleaved rounds.</summary>
    public List<(RegressionEntry Entry, List<Sample> Samples)> Run(IReadOnlyList<RegressionEntry> entries)
    {
        var plans = entries.Select(e => new Plan(e)).ToList();
        foreach (var p in plans) Calibrate(p);

        var clockStart = Stopwatch.StartNew();
        int rounds = 0;
        for (int r = 0; r < design.Rounds; r++)
        {
            if (r >= design.MinRounds && design.BudgetSeconds > 0 && clockStart.Elapsed.TotalSeconds > design.BudgetSeconds)
            {
                log.WriteLine($"budget of {design.BudgetSeconds:F0} s spent after {r} rounds: stopping there");
                break;
            }
            for (int i = 0; i < plans.Count; i++)
            {
                var p = plans[(r + i) % plans.Count];
                if (p.WarmEachVisit)
                {
                    p.Entry.Reset();
                    p.Entry.Run();
                }
                for (int k = 0; k < design.SamplesPerVisit; k++) p.Samples.Add(Measure(p, r));
            }
            rounds++;
            log.WriteLine($"round {rounds}/{design.Rounds} done at {clockStart.Elapsed.TotalSeconds:F0} s");
        }
        return plans.Select(p => (p.Entry, p.Samples)).ToList();
    }

    void Calibrate(Plan p)
    {
        var e = p.Entry;
        // Two untimed operations (JIT tiers, first touch of buffers), then one timed.
        for (int i = 0; i < 2; i++)
        {
            e.Reset();
            e.Run();
        }
        e.Reset();
        var one = Time(e, 1);
        double op = Clocks.Seconds(one, clock, e.Threads);
        p.OpsPerSample = (int)Math.Clamp(Math.Round(design.TargetSampleSeconds / Math.Max(op, 1e-9)), 1, MaxOpsPerSample);
        p.WarmEachVisit = op < design.TargetSampleSeconds / 4;
        log.WriteLine($"{e.Name}: {op * 1e3:F1} ms per op ({clock} clock), {p.OpsPerSample} op(s) per sample");
    }

    Sample Measure(Plan p, int round)
    {
        p.Entry.Reset();
        var s = Time(p.Entry, p.OpsPerSample) with { Round = round };
        double work = p.Entry.WorkPerOp * s.Ops;
        return s with { Value = work / Clocks.Seconds(s, clock, p.Entry.Threads) };
    }

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
