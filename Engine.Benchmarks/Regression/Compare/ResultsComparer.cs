// Pairs the entries of two runs by name and decides, per entry, slower / faster / same, the way
// dotnet/performance's ResultsComparer does: a Mann-Whitney U test against the threshold rather than
// against zero (two one-sided tests). In log space, with cost = -ln(throughput) (or ln(time)):
//   slower  if the new costs, lowered by ln(1 + threshold), are still stochastically greater than the
//           base costs at level alpha: the slowdown is significantly larger than the threshold;
//   faster  likewise with the new costs raised by ln(1 + threshold);
//   same    otherwise: no evidence of a change beyond the threshold (which includes "too noisy to tell").
// The ratio shown is the Hodges-Lehmann estimate of new/base with its (1 - 2 alpha) distribution-free
// interval, the interval that matches the one-sided tests: "slower" exactly when the whole interval
// lies below 1 / (1 + threshold), up to ties.
using GbaEngine.Benchmarks.Regression.Results;

namespace GbaEngine.Benchmarks.Regression.Compare;

internal enum Verdict
{
    Slower,
    Faster,
    Same,
    /// <summary>Too few samples for any result to reach the significance level.</summary>
    Inconclusive,
}

/// <summary>How two runs are compared.</summary>
/// <param name="Threshold">Relative change that matters (0.05 = 5%).</param>
/// <param name="Alpha">Significance level of each one-sided test.</param>
/// <param name="Clock">The clock the samples are read on (<see cref="Clocks"/>).</param>
/// <param name="RoundMedians">Test one value per round (the median of its samples) instead of every sample.</param>
internal sealed record ComparisonOptions(double Threshold = 0.05, double Alpha = ComparisonOptions.DefaultAlpha, string Clock = Clocks.Cpu, bool RoundMedians = false)
{
    /// <summary>
    /// Per one-sided test. With 13 entries, 0.01 lets a build with no change be flagged in up to 1 - 0.99^13 = 12%
    /// of pairs by chance alone (1 of 10 same-build pairs was, at p = 0.0093); 0.005 halves that and still lets
    /// the quick suite's fewest samples (6 against 6, smallest exact p = 1/924) reach significance.
    /// </summary>
    public const double DefaultAlpha = 0.005;
}

/// <summary>The outcome for one entry present in both runs.</summary>
internal sealed record EntryComparison(
    string Name, string Unit, Verdict Verdict,
    double Ratio, double RatioLow, double RatioHigh,
    double PSlower, double PFaster,
    double BaseMedian, double NewMedian, int BaseCount, int NewCount);

internal sealed record ComparisonReport(
    IReadOnlyList<EntryComparison> Entries, IReadOnlyList<string> Warnings,
    IReadOnlyList<string> OnlyInBase, IReadOnlyList<string> OnlyInNew)
{
    public IEnumerable<EntryComparison> Regressions => Entries.Where(e => e.Verdict == Verdict.Slower);
}

internal static class ResultsComparer
{
    public static ComparisonReport Compare(BenchmarkResults baseline, BenchmarkResults current, ComparisonOptions o)
    {
        if (!(o.Threshold >= 0 && o.Threshold < 10)) throw new ArgumentOutOfRangeException(nameof(o), o.Threshold, "The threshold must lie in [0, 10).");
        if (!(o.Alpha > 0 && o.Alpha < 0.5)) throw new ArgumentOutOfRangeException(nameof(o), o.Alpha, "Alpha must lie in (0, 0.5).");

        var warnings = new List<string>();
        var machine = baseline.Machine.MachineDifferences(current.Machine);
        if (machine.Count > 0)
            warnings.Add($"the runs come from different machines or runtimes ({string.Join("; ", machine)}): differences below mix the build's with the machine's");
        if (baseline.Kernels != current.Kernels)
            warnings.Add($"kernel sets differ: base {baseline.Kernels}, new {current.Kernels}");
        if (baseline.Suite != current.Suite)
            warnings.Add($"suites differ: base {baseline.Suite}, new {current.Suite}");

        var byName = current.Entries.ToDictionary(e => e.Name);
        var results = new List<EntryComparison>();
        foreach (var b in baseline.Entries)
        {
            if (!byName.TryGetValue(b.Name, out var n)) continue;
            if (b.Threads != n.Threads) warnings.Add($"{b.Name}: {b.Threads} thread(s) in base, {n.Threads} in new");
            // The checkpoint entries' work is the file's size, which moves by a few bytes between runs
            // (25,501,934 vs 25,501,936): a workload is the same within 0.1%.
            if (Math.Abs(b.WorkPerOp - n.WorkPerOp) > 1e-3 * Math.Max(Math.Abs(b.WorkPerOp), Math.Abs(n.WorkPerOp)) || b.WorkUnit != n.WorkUnit)
                warnings.Add($"{b.Name}: the workload differs ({b.WorkPerOp} vs {n.WorkPerOp} {b.WorkUnit}/{n.WorkUnit} per operation)");
            results.Add(CompareEntry(b, n, o));
        }
        var inconclusive = results.Where(r => r.Verdict == Verdict.Inconclusive).Select(r => $"{r.Name} ({r.BaseCount} vs {r.NewCount})").ToList();
        if (inconclusive.Count > 0)
            warnings.Add($"too few samples to reach alpha = {o.Alpha} for: {string.Join(", ", inconclusive)}");
        return new ComparisonReport(results, warnings,
            baseline.Entries.Select(e => e.Name).Where(name => !byName.ContainsKey(name)).ToList(),
            current.Entries.Select(e => e.Name).Where(name => baseline.Entries.All(e => e.Name != name)).ToList());
    }

    /// <summary>The test and the estimate for one pair of entries.</summary>
    public static EntryComparison CompareEntry(EntryResult baseline, EntryResult current, ComparisonOptions o)
    {
        var b = Values(baseline, o);
        var n = Values(current, o);
        // Costs in log space: larger is slower whatever the metric's direction.
        double sign = baseline.Direction == "higher" ? -1 : 1;
        var costB = b.Select(v => sign * Math.Log(v)).ToArray();
        var costN = n.Select(v => sign * Math.Log(v)).ToArray();
        double margin = Math.Log(1 + o.Threshold);

        double pSlower = MannWhitney.PGreater(costN.Select(c => c - margin).ToArray(), costB);
        double pFaster = MannWhitney.PGreater(costB, costN.Select(c => c + margin).ToArray());
        var (shift, low, high) = MannWhitney.Shift(costN, costB, 2 * o.Alpha);

        Verdict verdict = MannWhitney.SmallestP(costN.Length, costB.Length) > o.Alpha ? Verdict.Inconclusive
            : pSlower < o.Alpha ? Verdict.Slower
            : pFaster < o.Alpha ? Verdict.Faster
            : Verdict.Same;
        // Back from cost shifts to value ratios new/base (a cost shift of +s is a value ratio e^(-s) for throughput).
        double Ratio(double s) => Math.Exp(sign * s);
        double r1 = Ratio(low), r2 = Ratio(high);
        return new EntryComparison(baseline.Name, Clocks.RateUnit(baseline.WorkUnit, o.Clock), verdict,
            Ratio(shift), Math.Min(r1, r2), Math.Max(r1, r2), pSlower, pFaster,
            Median(b), Median(n), b.Length, n.Length);
    }

    /// <summary>An entry's metric per sample on the chosen clock (or per round: the median of its samples).</summary>
    public static double[] Values(EntryResult e, ComparisonOptions o)
    {
        if (!o.RoundMedians) return e.Samples.Select(s => Value(e, s, o.Clock)).ToArray();
        return e.Samples.GroupBy(s => (s.Launch, s.Round)).Select(g => Median(g.Select(s => Value(e, s, o.Clock)).ToArray())).ToArray();
    }

    static double Value(EntryResult e, Sample s, string clock)
    {
        double seconds = Clocks.Seconds(s, clock, e.Threads);
        return e.Metric switch
        {
            "throughput" => e.WorkPerOp * s.Ops / seconds,
            "time" => seconds / s.Ops,
            _ => throw new InvalidDataException($"{e.Name}: unknown metric '{e.Metric}' (expected throughput or time)."),
        };
    }

    static double Median(double[] v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
