// `Engine.Benchmarks --suite regression [--quick] --json-out FILE`. The parent process prepares what
// every launch shares (trainer states, loader files: SuiteFiles), then runs the launches one after
// another as child processes of this same program (`--suite-launch`), each building the suite from
// those files and sampling its share of the rounds (SuiteRunner), and merges their samples into one
// JSON with the machine fingerprint. Launches are there because some state is fixed for a process's
// life and differs between processes (a checkpoint read took 20-35 ms per operation in one process
// and 55-75 ms in the next, steadily): spread over several processes, that variation is inside
// every run instead of between two runs.
// With --pair-with, a second side (another build of this program, or this one with other environment
// variables, such as GBA_KERNELS) gets launches of its own, alternating with ours, and its own JSON:
// two runs measured through the same minutes of a shared machine, which is what a 5% threshold needs
// there (runs taken one after the other moved by up to 14% as a whole with the machine's load).
using System.Diagnostics;
using System.Globalization;
using GbaEngine.Benchmarks.Regression.Entries;
using GbaEngine.Benchmarks.Regression.Results;
using GbaEngine.Kernels;

namespace GbaEngine.Benchmarks.Regression;

using static BenchmarkSupport;

internal static class RegressionCommand
{
    public const string Usage = """
        --suite regression [--quick] --json-out FILE [--threads N] [--clock cpu|wall] [--launches N] [--rounds N]
                           [--samples-per-visit N] [--target-ms N] [--budget-s N] [--entries NAME,PREFIX*,...]
                           [--pair-with Engine.Benchmarks.dll|self --pair-json-out FILE [--pair-env NAME=VALUE]...]
          Runs the fixed regression suite and writes every sample as JSON (compare two with --compare).
          --pair-with: also runs that build (or this one, "self") in launches alternating with ours, with
          the --pair-env variables set (e.g. GBA_KERNELS=scalar), and writes its samples to --pair-json-out;
          the budget doubles.
          --quick: 3 launches of up to 5 rounds of ~0.1 s samples, no round started that would end past
          the launch's share of 150 s (but at least 2 rounds per launch): under 3 min with any kernel set
          unless neighbours take most of the machine. Otherwise 5 launches of 8 rounds of ~0.25 s
          samples. The workload is the same either way. GBA_KERNELS=scalar|avx2|avx512 picks the kernel set.
        """;

    public static int Run(string[] args)
    {
        string suite = Value(args, "--suite") ?? throw new ArgumentException("--suite: expected a suite name (regression).");
        if (suite != RegressionSuite.Name) throw new ArgumentException($"--suite {suite}: the only suite is '{RegressionSuite.Name}'.");
        string output = Value(args, "--json-out") ?? throw new ArgumentException("--json-out FILE is required: where the results go.");
        bool quick = args.Contains("--quick");
        var include = EntryFilter(Value(args, "--entries"));
        string clock = Clocks.Parse(Value(args, "--clock") ?? Clocks.Cpu, "--clock");
        int threads = Int(args, "--threads", Environment.ProcessorCount);
        int launches = Int(args, "--launches", quick ? 3 : 5);
        int rounds = Int(args, "--rounds", launches * (quick ? 5 : 8));
        var design = new SamplingDesign
        {
            Launches = launches,
            Rounds = rounds,
            MinRounds = Math.Min(rounds, 2 * launches),
            SamplesPerVisit = Int(args, "--samples-per-visit", 1),
            TargetSampleSeconds = Int(args, "--target-ms", quick ? 100 : 250) / 1000.0,
            BudgetSeconds = Value(args, "--budget-s") is not null ? Int(args, "--budget-s", 0) : quick ? 150 : 0,
            Order = "launches one after another; in each, interleaved rounds, one visit per entry per round, each round starting one entry later",
        };

        var sides = new List<Side> { new(output, null, []) };
        if (Value(args, "--pair-with") is { } pairWith)
        {
            string pairOutput = Value(args, "--pair-json-out") ?? throw new ArgumentException("--pair-with needs --pair-json-out FILE: where the other side's results go.");
            string? dll = pairWith == "self" ? null : File.Exists(pairWith) ? Path.GetFullPath(pairWith)
                : throw new ArgumentException($"--pair-with {pairWith}: no such file (expected an Engine.Benchmarks.dll or 'self').");
            var env = new List<(string, string)>();
            for (int i = 0; i < args.Length - 1; i++)
                if (args[i] == "--pair-env")
                {
                    int eq = args[i + 1].IndexOf('=');
                    if (eq < 1) throw new ArgumentException($"--pair-env {args[i + 1]}: expected NAME=VALUE.");
                    env.Add((args[i + 1][..eq], args[i + 1][(eq + 1)..]));
                }
            // The paired side goes first in the first launch; then they alternate.
            sides.Insert(0, new Side(pairOutput, dll, env));
            if (design.BudgetSeconds > 0) design = design with { BudgetSeconds = 2 * design.BudgetSeconds };
        }

        var log = Console.Error;
        var started = DateTime.UtcNow;
        var clockStart = Stopwatch.StartNew();
        var loadStart = MachineLoadProbe.LoadAverage();
        var pressureStart = MachineLoadProbe.CpuPressure();
        log.WriteLine($"suite {suite} ({(quick ? "quick" : "full")}), {threads} thread(s), {clock} clock, {launches} launches{(sides.Count > 1 ? " per side, two sides alternating" : "")}");

        var directory = Directory.CreateTempSubdirectory("gba-regression-").FullName;
        try
        {
            var files = new SuiteFiles(directory);
            files.Prepare(threads, log);
            int firstRound = 0;
            for (int launch = 0; launch < launches; launch++)
            {
                // Each launch gets an equal share of what is left of the budget and of the rounds.
                double left = design.BudgetSeconds > 0 ? design.BudgetSeconds - clockStart.Elapsed.TotalSeconds : double.PositiveInfinity;
                int share = (rounds - firstRound + launches - launch - 1) / (launches - launch);
                int minShare = (design.MinRounds + launches - 1) / launches;
                int next = firstRound;
                for (int k = 0; k < sides.Count; k++)
                {
                    var side = sides[(launch + k) % sides.Count];
                    double seconds = left / (launches - launch) / sides.Count;
                    var part = RunLaunch(args, side, directory, launch, firstRound, share, minShare, seconds);
                    next = Math.Max(next, part.Entries.SelectMany(e => e.Samples).Max(s => s.Round) + 1);
                    side.Add(part);
                }
                firstRound = next;
            }
            foreach (var side in sides)
            {
                var first = side.Parts[0];
                var results = new BenchmarkResults
                {
                    Suite = suite,
                    Mode = quick ? "quick" : "full",
                    CreatedUtc = started,
                    Command = "Engine.Benchmarks " + string.Join(' ', args) + (side.Dll is null && side.Environment.Count == 0 ? "" :
                        $" (the paired side: {side.Dll ?? "self"}{string.Concat(side.Environment.Select(e => $" {e.Name}={e.Value}"))})"),
                    DurationSeconds = clockStart.Elapsed.TotalSeconds,
                    Clock = clock,
                    Kernels = first.Kernels,
                    Threads = threads,
                    Machine = first.Machine,
                    Design = design,
                    Load = new MachineLoad
                    {
                        LoadAverageStart = loadStart, LoadAverageEnd = MachineLoadProbe.LoadAverage(),
                        CpuPressureStart = pressureStart, CpuPressureEnd = MachineLoadProbe.CpuPressure(),
                    },
                    Entries = side.Merged,
                };
                ResultsFile.Write(side.Output, results);
                Console.WriteLine($"{side.Output} ({results.Kernels}, commit {results.Machine.Commit}):");
                PrintSummary(results);
                log.WriteLine($"wrote {side.Output} ({results.DurationSeconds:F0} s)");
            }
            return 0;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>One side of a run: where its results go, the build it runs (null: this one) with which
    /// extra environment, and the launches it has done.</summary>
    sealed record Side(string Output, string? Dll, List<(string Name, string Value)> Environment)
    {
        public List<BenchmarkResults> Parts { get; } = [];
        public List<EntryResult> Merged { get; } = [];

        /// <summary>Adds a launch's entries: samples appended, in the suite's order.</summary>
        public void Add(BenchmarkResults part)
        {
            Parts.Add(part);
            foreach (var e in part.Entries)
            {
                int i = Merged.FindIndex(m => m.Name == e.Name);
                if (i < 0) Merged.Add(e);
                else Merged[i] = Merged[i] with { Samples = [.. Merged[i].Samples, .. e.Samples] };
            }
        }
    }

    /// <summary>Runs one launch as a child process of this program and reads back its samples.</summary>
    static BenchmarkResults RunLaunch(string[] args, Side side, string directory, int launch, int firstRound, int rounds, int minRounds, double seconds)
    {
        var part = Path.Combine(directory, $"launch-{launch}-{Path.GetFileName(side.Output)}.json");
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = false, RedirectStandardError = false };
        // Under the dotnet host the first command-line argument is this assembly; run it (or the paired build) the same way.
        var self = Environment.GetCommandLineArgs()[0];
        if (side.Dll is not null) psi.ArgumentList.Add(side.Dll);
        else if (self.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)) psi.ArgumentList.Add(self);
        foreach (var (name, value) in side.Environment) psi.Environment[name] = value;
        var inv = CultureInfo.InvariantCulture;
        foreach (var a in new[]
        {
            "--suite-launch", directory, "--launch", launch.ToString(inv), "--first-round", firstRound.ToString(inv),
            "--rounds", rounds.ToString(inv), "--min-rounds", minRounds.ToString(inv),
            "--seconds", double.IsInfinity(seconds) ? "0" : Math.Max(1, seconds).ToString("F0", inv), "--json-out", part,
        }) psi.ArgumentList.Add(a);
        foreach (var flag in new[] { "--threads", "--clock", "--samples-per-visit", "--target-ms", "--entries" })
            if (Value(args, flag) is { } v)
            {
                psi.ArgumentList.Add(flag);
                psi.ArgumentList.Add(v);
            }
        if (args.Contains("--quick")) psi.ArgumentList.Add("--quick");
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("could not start a launch of the suite");
        child.WaitForExit();
        if (child.ExitCode != 0) throw new InvalidOperationException($"launch {launch} of the suite failed (exit code {child.ExitCode}); its messages are above.");
        return ResultsFile.Read(part);
    }

    /// <summary>The child side (`--suite-launch DIR`): builds the suite from the prepared files, samples
    /// its rounds and writes its entries (the parent merges them).</summary>
    public static int RunLaunch(string[] args)
    {
        string directory = Value(args, "--suite-launch")!;
        int launch = Int(args, "--launch", 0, min: 0), firstRound = Int(args, "--first-round", 0, min: 0);
        int rounds = Int(args, "--rounds", 1), minRounds = Int(args, "--min-rounds", 1), seconds = Int(args, "--seconds", 0, min: 0);
        bool quick = args.Contains("--quick");
        string clock = Clocks.Parse(Value(args, "--clock") ?? Clocks.Cpu, "--clock");
        int threads = Int(args, "--threads", Environment.ProcessorCount);
        var design = new SamplingDesign
        {
            Rounds = rounds, MinRounds = minRounds,
            SamplesPerVisit = Int(args, "--samples-per-visit", 1),
            TargetSampleSeconds = Int(args, "--target-ms", quick ? 100 : 250) / 1000.0,
            BudgetSeconds = seconds, Order = "",
        };
        var clockStart = Stopwatch.StartNew();
        var log = Console.Error;
        var scratch = Path.Combine(directory, $"launch-{launch}-{Environment.ProcessId}");
        Directory.CreateDirectory(scratch);
        var entries = RegressionSuite.Build(threads, new SuiteFiles(directory), scratch, log, EntryFilter(Value(args, "--entries")));
        try
        {
            var plan = new SuiteRunner.LaunchPlan(launch, firstRound, rounds, minRounds, seconds > 0 ? seconds : double.PositiveInfinity);
            var measured = new SuiteRunner(design, clock, log).Run(entries, plan, clockStart);
            string kernels = KernelSelector.Current.ToString().ToLowerInvariant();
            ResultsFile.Write(Value(args, "--json-out")!, new BenchmarkResults
            {
                Suite = RegressionSuite.Name, Mode = quick ? "quick" : "full", CreatedUtc = DateTime.UtcNow, Command = "",
                DurationSeconds = clockStart.Elapsed.TotalSeconds, Clock = clock, Kernels = kernels, Threads = threads,
                Machine = MachineFingerprint.Capture(), Design = design,
                Load = new MachineLoad { LoadAverageStart = [], LoadAverageEnd = [] },
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
            });
            return 0;
        }
        finally
        {
            foreach (var e in entries) e.Dispose();
        }
    }

    static int Int(string[] args, string flag, int fallback, int min = 1)
    {
        if (Value(args, flag) is not { } v) return fallback;
        if (!int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min)
            throw new ArgumentException($"{flag} {v}: expected a whole number of at least {min}.");
        return n;
    }

    /// <summary>"--entries a,b*": exact names or prefixes ending in '*'; a pattern matching no entry is an error.</summary>
    static Func<string, bool>? EntryFilter(string? list)
    {
        if (list is null) return null;
        var patterns = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool Matches(string pattern, string name) =>
            pattern.EndsWith('*') ? name.StartsWith(pattern[..^1], StringComparison.Ordinal) : name == pattern;
        foreach (var pattern in patterns)
            if (!RegressionSuite.Names.Any(n => Matches(pattern, n)))
                throw new ArgumentException($"--entries: '{pattern}' matches no entry (entries: {string.Join(", ", RegressionSuite.Names)}).");
        return name => patterns.Any(p => Matches(p, name));
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
