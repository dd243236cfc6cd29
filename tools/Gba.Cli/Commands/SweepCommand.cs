using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Cli.Sweeps;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba sweep FILE`: expands a grid into numbered runs and writes DIR/runs.json;
/// `gba sweep summarize DIR`: one CSV or markdown table of every run's final metrics.
/// The runs themselves are `gba train --sweep FILE --index I`, e.g. one Slurm array task each.
/// </summary>
public static class SweepCommand
{
    static readonly OptionSpec Out = OptionSpec.Valued("out", "Options", "DIR|FILE",
        "the sweep directory (default: FILE's \"out\", else FILE's name without extension beside it);\nsummarize: the file the table is written to (default: stdout)");
    static readonly OptionSpec Indices = OptionSpec.Valued("indices", "Options", "0,2,5-7", "run: the points to train (default: all)");
    static readonly OptionSpec MaxParallel = OptionSpec.Valued("max-parallel", "Options", "N", "run: how many points train at once (default: all of a group)") with { Min = 1 };
    static readonly OptionSpec Format = OptionSpec.Valued("format", "Options", "csv|md", "summarize: the table's format (default csv)");

    /// <summary>`gba sweep`'s options.</summary>
    public static readonly OptionSchema Schema = new("sweep",
        "expand a grid of runs (gba train --sweep FILE --index I runs one), run or summarize them",
        [Out, Indices, MaxParallel, Format, SharedOptions.Json with { Group = "Options" }])
    {
        Usage = ["FILE [--out DIR] [--json]", "run FILE [--out DIR] [--indices 0,2,5-7] [--max-parallel N] [--json]", "summarize DIR [--format csv|md] [--out FILE] [--json]"],
        Notes = """
            FILE   {"base": {train options}, "grid": {option: [values...], ...}, "out": "DIR"}: the Cartesian product
                   of the grid's lists, last axis fastest; an object value sets several options at once, e.g.
                   "tafs": [{"htf": 0.1, "ltf": 0.001}, {"htf": 0.05, "ltf": 0.005}]; "data": [["l3.npy"], ["l6.npy"]]
                   picks data files per run. Relative paths are relative to FILE.
            Writes DIR/runs.json (index -> run directory, grid labels and the run's effective options) and prints the
            number of runs. Run point I with: gba train --sweep FILE --index I (or SLURM_ARRAY_TASK_ID), into DIR/run-III/.

            run FILE        trains the points (all, or --indices) in this process; points reading the same data
                            (same data options and data seed: e.g. a seed grid with a fixed "data_seed") train
                            together, one thread each, from ONE loader pass; results equal the one-point runs bit for
                            bit. --max-parallel N caps how many train at once. Exit 1 if any failed.
            summarize DIR   one row per run: grid labels, status (ok | failed | incomplete | missing) and the final
                            metrics from run-III/summary.json; --json adds a last stdout line {"count", "finished", "runs": [{column: value}]}.
            """,
    };

    /// <summary>Runs `gba sweep` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Positional.Count == 0)
        {
            stdout.Write(Schema.Help());
            return CliApp.Usage;
        }
        if (o.Positional[0] == "summarize") return Summarize(o, stdout);
        if (o.Positional[0] == "run") return RunLocal(o, stdout, stderr);
        o.Reject([Indices.Flag, MaxParallel.Flag], "goes with 'gba sweep run'");
        if (o.Positional.Count > 1) throw new UsageException($"unexpected argument '{o.Positional[1]}'");
        o.Reject([Format.Flag], "goes with 'gba sweep summarize'");
        var plan = SweepPlan.Load(o.Positional[0], o.String(Out.Flag));
        Directory.CreateDirectory(plan.Directory);
        var runsFile = Path.Combine(plan.Directory, SweepPlan.RunsFile);
        RunConfig.WriteAtomically(runsFile, plan.ToJson());
        stdout.WriteLine($"{plan.Points.Count} runs ({string.Join(" x ", plan.Axes.Select(a => $"{a}"))}) written to {runsFile}");
        stdout.WriteLine($"run one with: gba train --sweep {o.Positional[0]} --index I{(o.Has(Out.Flag) ? $" --out {plan.Directory}" : "")}   (I = 0..{plan.Points.Count - 1}, or SLURM_ARRAY_TASK_ID)");
        if (o.Flag(SharedOptions.Json.Flag)) stdout.WriteLine(new JsonObject { ["count"] = plan.Points.Count, ["runs"] = runsFile, ["out"] = plan.Directory }.ToResultJson());
        return CliApp.Ok;
    }

    static int RunLocal(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Positional.Count != 2) throw new UsageException(o.Positional.Count < 2 ? "run needs the sweep file" : $"unexpected argument '{o.Positional[2]}'");
        o.Reject([Format.Flag], "goes with 'gba sweep summarize'");
        var plan = SweepPlan.Load(o.Positional[1], o.String(Out.Flag));
        var indices = o.String(Indices.Flag) is { } list ? ParseIndices(list, plan.Points.Count) : Enumerable.Range(0, plan.Points.Count).ToList();
        int maxParallel = o.Int(MaxParallel.Flag, int.MaxValue);
        Directory.CreateDirectory(plan.Directory);
        RunConfig.WriteAtomically(Path.Combine(plan.Directory, SweepPlan.RunsFile), plan.ToJson());
        var outcomes = LocalSweep.Run(plan, indices, maxParallel, stderr);
        var ci = CultureInfo.InvariantCulture;
        foreach (var r in outcomes)
            stdout.WriteLine(r.Ok
                ? string.Create(ci, $"{r.Point.Name}: ok   FVU {r.Summary?["fvu"]?.GetValue<double>():F4}  L0 {r.Summary?["l0"]?.GetValue<double>():F2}  dead {r.Summary?["dead_fraction"]?.GetValue<double>():F4}")
                : $"{r.Point.Name}: failed: {r.Message}");
        int failed = outcomes.Count(r => !r.Ok);
        stdout.WriteLine($"{outcomes.Count - failed} of {outcomes.Count} runs finished in {plan.Directory}");
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["count"] = outcomes.Count, ["failed"] = failed, ["out"] = plan.Directory,
                ["runs"] = new JsonArray(outcomes.Select(r => (JsonNode)new JsonObject
                {
                    ["index"] = r.Point.Index, ["dir"] = r.Point.Name, ["status"] = r.Ok ? "ok" : "failed",
                    ["error"] = r.Ok ? null : r.Message, ["summary"] = r.Summary?.DeepClone(),
                }).ToArray()),
            }.ToResultJson());
        return failed == 0 ? CliApp.Ok : CliApp.Failed;
    }

    /// <summary>"0,2,5-7" → [0, 2, 5, 6, 7], each in [0, count).</summary>
    static List<int> ParseIndices(string text, int count)
    {
        var result = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var ends = part.Split('-');
            if (ends.Length > 2 || !ends.All(e => int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new UsageException($"--indices '{text}': expected a list like 0,2,5-7");
            int lo = int.Parse(ends[0], CultureInfo.InvariantCulture), hi = int.Parse(ends[^1], CultureInfo.InvariantCulture);
            if (hi < lo || hi >= count) throw new UsageException($"--indices '{text}': {part} is outside 0..{count - 1}");
            for (int i = lo; i <= hi; i++) if (!result.Contains(i)) result.Add(i);
        }
        if (result.Count == 0) throw new UsageException($"--indices '{text}' selects no run");
        return result;
    }

    static readonly string[] MetricKeys = ["fvu", "mse", "l0", "dead_fraction", "frr_0_8", "frr_0_9", "tokens", "seconds", "tokens_per_second"];

    static int Summarize(OptionReader o, TextWriter stdout)
    {
        if (o.Positional.Count != 2) throw new UsageException(o.Positional.Count < 2 ? "summarize needs the sweep directory" : $"unexpected argument '{o.Positional[2]}'");
        o.Reject([Indices.Flag, MaxParallel.Flag], "goes with 'gba sweep run'");
        string format = o.String(Format.Flag) ?? "csv";
        if (format is not ("csv" or "md")) throw new UsageException($"--format '{format}': expected csv or md");
        var dir = o.Positional[1];
        var runsFile = Path.Combine(dir, SweepPlan.RunsFile);
        if (!File.Exists(runsFile)) throw new FileNotFoundException($"{runsFile}: not found (write it with gba sweep FILE --out {dir}).");
        var runs = RunConfig.Parse(runsFile);
        var axes = (runs["axes"] as JsonArray ?? throw new InvalidDataException($"{runsFile}: no \"axes\" list.")).Select(a => a!.ToString()).ToList();
        var list = runs["runs"] as JsonArray ?? throw new InvalidDataException($"{runsFile}: no \"runs\" list.");

        var header = new List<string> { "index", "run" };
        header.AddRange(axes);
        header.Add("status");
        header.AddRange(MetricKeys);
        header.Add("error");
        var rows = new List<List<string>>();
        int ok = 0;
        foreach (var run in list.OfType<JsonObject>())
        {
            string name = run["dir"]?.ToString() ?? throw new InvalidDataException($"{runsFile}: a run has no \"dir\".");
            var runDir = Path.Combine(dir, name);
            var row = new List<string> { run["index"]?.ToString() ?? "", name };
            row.AddRange(axes.Select(a => run["labels"]?[a]?.ToString() ?? ""));
            var summaryPath = Path.Combine(runDir, "summary.json");
            var errorPath = Path.Combine(runDir, TrainCommand.FailureFile);
            JsonObject? summary = null;
            string status, error = "";
            if (File.Exists(summaryPath)) { summary = RunConfig.Parse(summaryPath); status = "ok"; ok++; }
            else if (File.Exists(errorPath)) { status = "failed"; error = File.ReadAllText(errorPath).Trim().ReplaceLineEndings(" "); }
            else status = Directory.Exists(runDir) ? "incomplete" : "missing";
            row.Add(status);
            row.AddRange(MetricKeys.Select(k => summary?[k] is JsonValue v ? Number(v) : ""));
            row.Add(error);
            rows.Add(row);
        }
        var text = format == "csv" ? Csv(header, rows) : Markdown(header, rows);
        if (o.String(Out.Flag) is { } outFile)
        {
            AtomicFile.WriteAllText(outFile, text);
            stdout.WriteLine($"{ok} of {rows.Count} runs finished; table written to {outFile}");
        }
        else stdout.Write(text);
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["count"] = rows.Count, ["finished"] = ok,
                ["runs"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject(header.Zip(r).Select(kv =>
                    KeyValuePair.Create(kv.First, (JsonNode?)(double.TryParse(kv.Second, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && MetricKeys.Contains(kv.First)
                        ? JsonValue.Create(d) : kv.Second.Length == 0 ? null : JsonValue.Create(kv.Second)))))).ToArray()),
            }.ToResultJson());
        return CliApp.Ok;
    }

    static string Number(JsonValue v) => v.TryGetValue<double>(out var d) ? d.ToString("R", CultureInfo.InvariantCulture) : v.ToString();

    static string Csv(List<string> header, List<List<string>> rows)
    {
        static string Field(string s) => s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
        var sb = new StringBuilder();
        foreach (var r in rows.Prepend(header)) sb.Append(string.Join(",", r.Select(Field))).Append('\n');
        return sb.ToString();
    }

    static string Markdown(List<string> header, List<List<string>> rows)
    {
        static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
        // Long floats are shortened for reading; the CSV keeps full precision.
        static string Short(string s) => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && s.Contains('.')
            ? d.ToString("G5", CultureInfo.InvariantCulture) : s;
        var sb = new StringBuilder();
        sb.Append("| ").Append(string.Join(" | ", header.Select(Cell))).Append(" |\n");
        sb.Append('|').Append(string.Concat(header.Select(_ => "---|"))).Append('\n');
        foreach (var r in rows) sb.Append("| ").Append(string.Join(" | ", r.Select(c => Cell(Short(c))))).Append(" |\n");
        return sb.ToString();
    }
}
