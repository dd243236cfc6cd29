using GbaEngine.Benchmarks.Regression.Compare;
using GbaEngine.Benchmarks.Regression.Results;
using static GbaEngine.Benchmarks.Tests.SyntheticResults;

namespace GbaEngine.Benchmarks.Tests;

public class ResultsComparerTests
{
    static readonly ComparisonOptions Default = new();

    static EntryComparison Single(double[] baseline, double[] current, ComparisonOptions? o = null, string metric = "throughput") =>
        ResultsComparer.Compare(Run([Entry("e", baseline, metric)]), Run([Entry("e", current, metric)]), o ?? Default).Entries.Single();

    [Fact]
    public void SameDistributionIsSame()
    {
        // Ten pairs of independent draws from one distribution with a 5% spread: never flagged either way.
        for (int seed = 0; seed < 10; seed++)
        {
            var e = Single(Noisy(100, 0.05, 15, seed), Noisy(100, 0.05, 15, 100 + seed));
            Assert.Equal(Verdict.Same, e.Verdict);
        }
    }

    [Fact]
    public void TwentyPercentSlowerIsSlowerAndNamed()
    {
        var baseline = Run([Entry("fast", Noisy(100, 0.03, 12, 1)), Entry("kept", Noisy(50, 0.03, 12, 2))]);
        var current = Run([Entry("fast", Noisy(80, 0.03, 12, 3)), Entry("kept", Noisy(50, 0.03, 12, 4))]);
        var report = ResultsComparer.Compare(baseline, current, Default);
        Assert.Equal(["fast"], report.Regressions.Select(e => e.Name));
        var fast = report.Entries.Single(e => e.Name == "fast");
        Assert.InRange(fast.Ratio, 0.75, 0.85);
        Assert.True(fast.RatioHigh < 1 / 1.05, "the whole interval lies below the threshold");
        Assert.True(fast.PSlower < 0.01);
    }

    [Fact]
    public void ChangeSmallerThanTheThresholdIsSameEvenWhenSignificant()
    {
        // 3% slower with 0.5% noise over 30 samples: certainly a change, but below 5%.
        var e = Single(Noisy(100, 0.005, 30, 1), Noisy(97, 0.005, 30, 2));
        Assert.Equal(Verdict.Same, e.Verdict);
        Assert.InRange(e.Ratio, 0.96, 0.98);
        // With a 1% threshold the same data is a regression.
        Assert.Equal(Verdict.Slower, Single(Noisy(100, 0.005, 30, 1), Noisy(97, 0.005, 30, 2), Default with { Threshold = 0.01 }).Verdict);
    }

    [Fact]
    public void FasterIsFaster()
    {
        var e = Single(Noisy(100, 0.03, 12, 1), Noisy(130, 0.03, 12, 2));
        Assert.Equal(Verdict.Faster, e.Verdict);
        Assert.True(e.PFaster < 0.01 && e.PSlower > 0.5);
    }

    [Fact]
    public void NoisyChangeIsNotFlagged()
    {
        // 10% slower medians but 40% noise on 8 samples: no evidence beyond the threshold.
        var e = Single(Noisy(100, 0.4, 8, 1), Noisy(90, 0.4, 8, 2));
        Assert.Equal(Verdict.Same, e.Verdict);
    }

    [Fact]
    public void LowerIsBetterMetricsAreReadTheOtherWay()
    {
        // Times 20% longer: slower; the ratio is of the metric itself (new/base time).
        var e = Single(Noisy(1.0, 0.02, 12, 1), Noisy(1.2, 0.02, 12, 2), metric: "time");
        Assert.Equal(Verdict.Slower, e.Verdict);
        Assert.InRange(e.Ratio, 1.15, 1.25);
        Assert.Equal(Verdict.Faster, Single(Noisy(1.0, 0.02, 12, 1), Noisy(0.8, 0.02, 12, 2), metric: "time").Verdict);
    }

    [Fact]
    public void TooFewSamplesAreInconclusiveAndWarned()
    {
        var report = ResultsComparer.Compare(Run([Entry("e", [100, 101, 99, 100])]), Run([Entry("e", [10, 11, 9, 10])]), Default);
        Assert.Equal(Verdict.Inconclusive, report.Entries.Single().Verdict);
        Assert.Empty(report.Regressions);
        Assert.Contains(report.Warnings, w => w.Contains("too few samples") && w.Contains("e (4 vs 4)"));
    }

    [Fact]
    public void DifferentMachinesAreWarnedAndStillCompared()
    {
        var baseline = Run([Entry("e", Noisy(100, 0.02, 10, 1))], Machine(cpu: "Intel Xeon"));
        var current = Run([Entry("e", Noisy(100, 0.02, 10, 2))], Machine(cpu: "AMD EPYC"));
        var report = ResultsComparer.Compare(baseline, current, Default);
        Assert.Contains(report.Warnings, w => w.Contains("different machines") && w.Contains("Intel Xeon vs AMD EPYC"));
        Assert.Single(report.Entries);
    }

    [Fact]
    public void SameMachineAndCommitChangeGiveNoWarning()
    {
        var baseline = Run([Entry("e", Noisy(100, 0.02, 10, 1))], Machine(commit: "one"));
        var current = Run([Entry("e", Noisy(100, 0.02, 10, 2))], Machine(commit: "two"));
        Assert.Empty(ResultsComparer.Compare(baseline, current, Default).Warnings);
    }

    [Fact]
    public void QuickSuitesFewestSamplesCanReachTheDefaultAlpha()
    {
        // --quick guarantees 2 rounds in each of 3 launches: 6 samples per entry and side.
        Assert.True(MannWhitney.SmallestP(6, 6) < ComparisonOptions.DefaultAlpha);
        Assert.Equal(Verdict.Slower, Single(Noisy(100, 0.02, 6, 1), Noisy(50, 0.02, 6, 2), Default).Verdict);
    }

    [Fact]
    public void WorkloadIsWarnedOnlyBeyondATenthOfAPercent()
    {
        var e = Entry("checkpoint/read", Noisy(100, 0.02, 10, 1));
        var baseline = Run([e with { WorkPerOp = 25_501_934 }]);
        Assert.Empty(ResultsComparer.Compare(baseline, Run([e with { WorkPerOp = 25_501_936 }]), Default).Warnings);
        Assert.Contains(ResultsComparer.Compare(baseline, Run([e with { WorkPerOp = 25_800_000 }]), Default).Warnings,
            w => w.Contains("checkpoint/read: the workload differs"));
    }

    [Fact]
    public void IsaAndKernelDifferencesAreWarned()
    {
        var other = Machine() with { IsaFlags = ["avx2", "fma"] };
        var report = ResultsComparer.Compare(Run([Entry("e", Noisy(100, 0.02, 10, 1))]), Run([Entry("e", Noisy(100, 0.02, 10, 2))], other, kernels: "scalar"), Default);
        Assert.Contains(report.Warnings, w => w.Contains("only the first has [avx512f]"));
        Assert.Contains(report.Warnings, w => w.Contains("kernel sets differ: base avx512, new scalar"));
    }

    [Fact]
    public void EntriesInOneRunOnlyAreListedNotCompared()
    {
        var report = ResultsComparer.Compare(
            Run([Entry("both", Noisy(1, 0.01, 8, 1)), Entry("old", Noisy(1, 0.01, 8, 2))]),
            Run([Entry("both", Noisy(1, 0.01, 8, 3)), Entry("new", Noisy(1, 0.01, 8, 4))]), Default);
        Assert.Equal(["both"], report.Entries.Select(e => e.Name));
        Assert.Equal(["old"], report.OnlyInBase);
        Assert.Equal(["new"], report.OnlyInNew);
    }

    [Fact]
    public void TheClockDecidesWhichSecondsAreTested()
    {
        // CPU time unchanged, wall time 50% longer (a busy neighbour): same on the CPU clock, slower on the wall clock.
        var cpu = Noisy(100, 0.02, 12, 1);
        var baseline = Run([Entry("e", cpu)]);
        var current = Run([Entry("e", Noisy(100, 0.02, 12, 2), wallValues: Noisy(66, 0.02, 12, 3))]);
        Assert.Equal(Verdict.Same, ResultsComparer.Compare(baseline, current, Default).Entries.Single().Verdict);
        Assert.Equal(Verdict.Slower, ResultsComparer.Compare(baseline, current, Default with { Clock = Clocks.Wall }).Entries.Single().Verdict);
    }

    [Fact]
    public void RoundMediansTestOneValuePerRound()
    {
        var entry = Entry("e", [1, 2, 30, 4, 5, 60], samplesPerRound: 3);
        Assert.Equal([2.0, 5.0], ResultsComparer.Values(entry, Default with { RoundMedians = true }));
        Assert.Equal(6, ResultsComparer.Values(entry, Default).Length);
    }

    [Fact]
    public void ValuesAreRecomputedFromWorkAndTheChosenClock()
    {
        var e = Entry("e", [10]) with { Threads = 2, WorkPerOp = 3 };
        // cpu 0.1 s over 2 threads = 0.05 s per thread; 1 op of 3 units: 60 units/s. Wall 0.1 s: 30 units/s.
        Assert.Equal(60, ResultsComparer.Values(e, Default).Single(), 1e-9);
        Assert.Equal(30, ResultsComparer.Values(e, Default with { Clock = Clocks.Wall }).Single(), 1e-9);
    }
}
