using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Commands;
using GbaEngine.Cli.Options;
using GbaEngine.Training;
using GbaEngine.Formats;

using GbaEngine.Cli.Sweeps;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba sweep run FILE`: trains sweep points in this process. Points that read the same data (same data
/// options and data seed) train together, one thread each, fed from ONE loader pass through a
/// <see cref="BroadcastStream"/>: every row is read (and shuffled, or generated) once for all of them.
/// Each run sees exactly the rows it would see alone, so its results equal `gba train --sweep FILE
/// --index I` bit for bit (same thread count), and its directory holds the same files.
/// </summary>
public static class LocalSweep
{
    /// <summary>Options that determine the data a run reads (its stream and its evaluation set).</summary>
    static readonly string[] DataKeys =
        ["data", "dtype", "dim", "tensor", "row_limit", "skip_nonfinite", "eval_tokens", "ground_truth", "token_text",
         "features", "sparsity", "profile", "exponent", "noise", "magnitude_min", "magnitude_max"];

    public sealed record Outcome(SweepPoint Point, bool Ok, string Message, JsonObject? Summary);

    public static IReadOnlyList<Outcome> Run(SweepPlan plan, IReadOnlyList<int> indices, int maxParallel, TextWriter stderr)
    {
        var points = indices.Select(i => Prepare(plan, plan.Points[i])).ToList();
        var outcomes = new Outcome?[points.Count];
        var groups = points.Select((p, i) => (p, i)).GroupBy(x => x.p.DataKey).ToList();
        foreach (var group in groups)
            foreach (var chunk in group.Chunk(Math.Max(1, maxParallel)))
            {
                stderr.WriteLine($"gba sweep run: {string.Join(", ", chunk.Select(c => c.p.Point.Name))} share one loader pass");
                RunTogether(plan, chunk.Select(c => c.p).ToList(), stderr).Select((o, k) => (o, k)).ToList()
                    .ForEach(x => outcomes[chunk[x.k].i] = x.o);
            }
        return outcomes.Select(o => o!).ToList();
    }

    sealed record Prepared(SweepPoint Point, OptionReader Options, TrainerOptions Trainer, string DataKey);

    static Prepared Prepare(SweepPlan plan, SweepPoint point)
    {
        var o = TrainOptions.Reader(["--quiet"]);
        o.AddDefaults(point.Options, $"{plan.Source} (run {point.Index})", TrainOptions.Configurable);
        var trainer = TrainOptions.Trainer(o, demo: false);
        var key = new JsonObject();
        foreach (var k in DataKeys) if (point.Options[k] is { } v) key[k] = v.DeepClone();
        key["data_seed"] = point.Options["data_seed"]?.DeepClone() ?? trainer.Seed;
        return new Prepared(point, o, trainer, key.ToJsonString());
    }

    static Outcome[] RunTogether(SweepPlan plan, IReadOnlyList<Prepared> runs, TextWriter stderr)
    {
        var first = runs[0];
        var dataPaths = first.Options.Strings("--data");
        try { FlagTerms.ValidateTrainer(first.Trainer); }
        catch (SettingException e) { return runs.Select(r => Fail(plan, r, e.Message)).ToArray(); }
        DataSource shared;
        try
        {
            shared = dataPaths.Count > 0 ? DataSource.Files(dataPaths, first.Options, first.Trainer.Seed) : DataSource.Synthetic(first.Options, first.Trainer.Seed);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or ActivationFormatException or UsageException)
        {
            return runs.Select(r => Fail(plan, r, FlagTerms.Message(e))).ToArray();
        }
        using (shared)
        {
            // The ring holds the largest single read (the start-up tokens or a batch) twice over, so no run waits on another for long.
            long capacity = 2L * runs.Max(r => Math.Max(r.Trainer.InitTokens, r.Trainer.BatchSize)) + runs.Max(r => r.Trainer.BatchSize);
            var pass = new BroadcastStream(shared.Train, runs.Count, capacity);
            var outcomes = new Outcome[runs.Count];
            var threads = runs.Select((r, k) => new Thread(() => outcomes[k] = RunOne(plan, r, shared.WithTrain(pass.Consumers[k])))
            {
                Name = $"gba sweep {r.Point.Name}",
                IsBackground = true,
            }).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            stderr.WriteLine($"gba sweep run: {pass.RowsRead:N0} rows read once for {runs.Count} run(s)");
            return outcomes;
        }
    }

    static Outcome RunOne(SweepPlan plan, Prepared run, DataSource view)
    {
        var dir = Path.Combine(plan.Directory, run.Point.Name);
        var (stdout, stderr) = (new StringWriter(CultureInfo.InvariantCulture), new StringWriter(CultureInfo.InvariantCulture));
        try
        {
            // The view's owner (the shared source) outlives this run; disposing the view releases this run's place in the pass.
            TrainCommand.RunPoint("train", run.Options, dir, stdout, stderr, openData: (_, _) => view);
            var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))) as JsonObject;
            return new Outcome(run.Point, true, "ok", summary);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            view.Dispose();
            return new Outcome(run.Point, false, FlagTerms.Message(e), null);
        }
    }

    static Outcome Fail(SweepPlan plan, Prepared run, string message)
    {
        var dir = Path.Combine(plan.Directory, run.Point.Name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, TrainCommand.FailureFile), message + "\n");
        return new Outcome(run.Point, false, message, null);
    }
}
