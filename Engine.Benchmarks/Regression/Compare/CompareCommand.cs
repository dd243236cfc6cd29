// `Engine.Benchmarks --compare BASE.json NEW.json [--threshold 5%]`: the regression gate. Prints a
// slower / faster / same table with ratios and confidence, warns when the runs are not from the same
// machine, and exits 1 when any entry is significantly slower than the threshold allows (2 on bad input).
using System.Globalization;
using GbaEngine.Benchmarks.Regression.Results;

namespace GbaEngine.Benchmarks.Regression.Compare;

using static BenchmarkSupport;

internal static class CompareCommand
{
    public const string Usage = """
        --compare BASE.json NEW.json [--threshold 5%] [--alpha 0.005] [--clock cpu|wall] [--round-medians]
          Pairs entries by name; per entry a Mann-Whitney U test of the new samples against the base ones
          shifted by the threshold.
          Exit 1 when any entry is significantly slower than base by more than the threshold, 0 otherwise;
          warns when the machine fingerprints differ.
        """;

    public static int Run(string[] args)
    {
        if (args.Length < 3 || args[1].StartsWith("--", StringComparison.Ordinal) || args[2].StartsWith("--", StringComparison.Ordinal))
            throw new ArgumentException("--compare needs two results files: --compare BASE.json NEW.json.");
        var baseline = ResultsFile.Read(args[1]);
        var current = ResultsFile.Read(args[2]);
        var options = new ComparisonOptions(
            Threshold: ParseThreshold(Value(args, "--threshold") ?? "5%"),
            Alpha: ParseFraction(Value(args, "--alpha") ?? ComparisonOptions.DefaultAlpha.ToString(CultureInfo.InvariantCulture), "--alpha"),
            Clock: Clocks.Parse(Value(args, "--clock") ?? Clocks.Cpu, "--clock"),
            RoundMedians: args.Contains("--round-medians"));
        var report = ResultsComparer.Compare(baseline, current, options);
        Print(Console.Out, args[1], baseline, args[2], current, options, report);
        return report.Regressions.Any() ? 1 : 0;
    }

    /// <summary>"5%" or "0.05".</summary>
    public static double ParseThreshold(string text)
    {
        bool percent = text.EndsWith('%');
        var number = percent ? text[..^1] : text;
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v >= 0))
            throw new ArgumentException($"--threshold {text}: expected a non-negative percentage (5%) or fraction (0.05).");
        return percent ? v / 100 : v;
    }

    static double ParseFraction(string text, string flag) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v < 0.5
            ? v : throw new ArgumentException($"{flag} {text}: expected a number in (0, 0.5).");

    public static void Print(TextWriter w, string basePath, BenchmarkResults b, string newPath, BenchmarkResults n,
        ComparisonOptions o, ComparisonReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        string Describe(BenchmarkResults r) => $"commit {Short(r.Machine.Commit)}, {r.Kernels}, {r.Mode}, {r.CreatedUtc:yyyy-MM-dd HH:mm} UTC";
        w.WriteLine($"base: {basePath} ({Describe(b)})");
        w.WriteLine($"new:  {newPath} ({Describe(n)})");
        w.WriteLine(string.Create(inv, $"threshold {100 * o.Threshold:0.##}%, alpha {o.Alpha} per one-sided Mann-Whitney U test, {o.Clock} clock{(o.RoundMedians ? ", one value per round (median)" : ", every sample")}"));
        foreach (var warning in report.Warnings) w.WriteLine($"WARNING: {warning}");
        w.WriteLine();
        w.WriteLine($"| entry | verdict | new/base | {100 * (1 - 2 * o.Alpha):F0}% interval | p (slower) | p (faster) | base median | new median | unit | samples |");
        w.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|---|---:|");
        foreach (var e in report.Entries.OrderBy(e => e.Verdict).ThenBy(e => e.Ratio))
        {
            string verdict = e.Verdict switch
            {
                Verdict.Slower => "**slower**",
                Verdict.Faster => "faster",
                Verdict.Same => "same",
                _ => "too few samples",
            };
            w.WriteLine(string.Create(inv,
                $"| {e.Name} | {verdict} | {e.Ratio:F3} | {e.RatioLow:F3}-{e.RatioHigh:F3} | {P(e.PSlower)} | {P(e.PFaster)} | {e.BaseMedian:G4} | {e.NewMedian:G4} | {e.Unit} | {e.BaseCount} / {e.NewCount} |"));
        }
        foreach (var name in report.OnlyInBase) w.WriteLine($"| {name} | only in base | | | | | | | | |");
        foreach (var name in report.OnlyInNew) w.WriteLine($"| {name} | only in new | | | | | | | | |");
        w.WriteLine();
        var slower = report.Regressions.Select(e => e.Name).ToList();
        int faster = report.Entries.Count(e => e.Verdict == Verdict.Faster);
        int same = report.Entries.Count(e => e.Verdict == Verdict.Same);
        int undecided = report.Entries.Count(e => e.Verdict == Verdict.Inconclusive);
        string rest = $"{faster} faster, {same} same{(undecided > 0 ? $", {undecided} with too few samples to tell" : "")}.";
        w.WriteLine(slower.Count > 0 ? $"REGRESSION: {slower.Count} slower ({string.Join(", ", slower)}), {rest}" : $"No regression: {rest}");
    }

    static string P(double p) => p < 1e-4 ? "<1e-4" : p.ToString("F4", CultureInfo.InvariantCulture);

    static string Short(string commit) => commit.Length > 12 && !commit.StartsWith("unknown", StringComparison.Ordinal) ? commit[..12] + (commit.EndsWith("+dirty", StringComparison.Ordinal) ? "+dirty" : "") : commit;
}
