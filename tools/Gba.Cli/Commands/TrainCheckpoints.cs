using System.Text.Json.Nodes;
using GbaEngine.Checkpoints;
using GbaEngine.Collectives;
using GbaEngine.Training;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// Checkpoints for `gba train` / `gba demo`: OUT/checkpoints/step-*/ every --checkpoint-every steps,
/// at the end and on SIGINT/SIGTERM; `--resume DIR` continues the newest loadable one. Each
/// checkpoint keeps the command and its arguments, so `gba train --resume DIR` alone rebuilds the run;
/// options given next to --resume override the saved ones, and any that would change the training
/// (width, method, data, ...) are refused with one error listing them. The budget (--steps /
/// --tokens) may grow, --threads and --kernels may change (with a warning: the result then matches
/// an uninterrupted run only up to rounding).
///
/// A run sharded over P MPI ranks keeps one checkpoint store per rank, OUT/checkpoints/rank-R/step-*/ (each
/// rank's neurons), and OUT/checkpoints/ranks.json saying P: `--resume` needs a job of the same P (no
/// re-sharding), and every rank continues from the newest step all ranks have written.
/// </summary>
static class TrainCheckpoints
{
    public const string Folder = "checkpoints";

    /// <summary>The manifest of a sharded run's checkpoints: its number of ranks and neurons.</summary>
    public const string RanksFile = "ranks.json";

    /// <summary>Where <paramref name="comm"/>'s rank keeps its checkpoints in run directory <paramref name="runDir"/>.</summary>
    static string StoreDirectory(string runDir, Communicator comm) =>
        comm.Size == 1 ? Path.Combine(runDir, Folder) : Path.Combine(runDir, Folder, $"rank-{comm.Rank:D4}");

    /// <summary>The ranks a run directory's checkpoints were written by (1: a single process).</summary>
    static int SavedRanks(string runDir)
    {
        string path = Path.Combine(runDir, Folder, RanksFile);
        if (!File.Exists(path)) return 1;
        JsonNode? json;
        try { json = JsonNode.Parse(File.ReadAllText(path)); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})."); }
        return json?["ranks"] is JsonValue v && v.TryGetValue<int>(out int ranks) && ranks >= 2 ? ranks
            : throw new InvalidDataException($"{path}: no \"ranks\" of two or more (damaged?).");
    }

    /// <summary>A run being continued: the checkpoint, where it came from, and the merged arguments.</summary>
    public sealed record Resume(string Command, string RunDirectory, LoadedCheckpoint Loaded, IReadOnlyList<string> Args);

    /// <summary>
    /// Loads the newest loadable checkpoint of the run in <paramref name="dir"/> (a run directory, or one
    /// step-* directory to take that checkpoint) and merges its saved arguments with <paramref name="given"/>.
    /// </summary>
    public static Resume Open(string dir, string command, IReadOnlyList<string> given, TextWriter stderr) =>
        Open(dir, command, given, stderr, SingleProcessCommunicator.Instance);

    /// <summary>As <see cref="Open(string, string, IReadOnlyList{string}, TextWriter)"/> for this rank of <paramref name="comm"/> (collective).</summary>
    public static Resume Open(string dir, string command, IReadOnlyList<string> given, TextWriter stderr, Communicator comm)
    {
        string full = FullPath(dir);
        LoadedCheckpoint loaded;
        string runDir;
        if (comm.Size > 1 || File.Exists(Path.Combine(full, Folder, RanksFile)))
        {
            if (!Directory.Exists(Path.Combine(full, Folder)))
                throw new InvalidDataException($"{dir}: no {Folder}/ directory of a run over MPI ranks (give the run directory, the --out of the run).");
            int ranks = SavedRanks(full);
            if (ranks != comm.Size)
                throw new UsageException(ranks == 1
                    ? $"--resume {dir}: the run was trained by one process; resume it without mpirun/srun (this job has {comm.Size} ranks)"
                    : $"--resume {dir}: the run was trained on {ranks} MPI ranks and its checkpoints hold {ranks} shards; resume it on {ranks} ranks (this job has {comm.Size})");
            loaded = AgreedCheckpoint(new CheckpointStore(StoreDirectory(full, comm)), comm);
            runDir = full;
        }
        else if (File.Exists(Path.Combine(full, "manifest.json")))
        {
            loaded = new LoadedCheckpoint(CheckpointStore.Load(full), full, []);
            runDir = Path.GetDirectoryName(Path.GetDirectoryName(full)!)!;
        }
        else
        {
            if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"{dir}: no such run directory to resume.");
            if (!Directory.Exists(Path.Combine(full, Folder)))
                throw new InvalidDataException($"{dir}: no {Folder}/ directory (was the run started with --out {dir}?).");
            loaded = new CheckpointStore(Path.Combine(full, Folder)).LoadLatest();
            runDir = full;
        }
        foreach (var reason in loaded.Skipped) stderr.WriteLine($"gba {command}: warning: skipping a damaged checkpoint: {reason}");

        var app = loaded.Checkpoint.Application;
        var reader = new CheckpointJson(loaded.Directory);
        string savedCommand = reader.String(app, "command");
        if (savedCommand is not ("train" or "demo"))
            throw new InvalidDataException($"{loaded.Directory}: written by 'gba {savedCommand}', which 'gba {command}' cannot resume.");
        var saved = reader.Args(app);
        if (Parse(given).LastOrDefault(a => a.Name == "--out").Value is { } outDir && FullPath(outDir) != runDir)
            throw new UsageException($"--out must be the directory being resumed ({dir}) or left out");
        return new Resume(savedCommand, runDir, loaded, Merge(Parse(saved), Parse(given)));
    }

    /// <summary>
    /// This rank's checkpoint of the newest step every rank has a loadable checkpoint of: a rank stopped while
    /// writing leaves the others one step ahead, and the ranks must continue the same step.
    /// </summary>
    static LoadedCheckpoint AgreedCheckpoint(CheckpointStore store, Communicator comm)
    {
        var loaded = store.LoadLatest();
        Span<long> step = [-loaded.Checkpoint.Step];
        comm.AllReduce(step, ReduceOperation.Max);
        long agreed = -step[0];
        if (agreed == loaded.Checkpoint.Step) return loaded;
        var path = store.List().FirstOrDefault(c => c.Step == agreed).Path
            ?? throw new InvalidDataException($"{store.Directory}: no checkpoint of step {agreed}, the newest step every rank has written: the ranks' checkpoints cannot be continued together.");
        return new LoadedCheckpoint(CheckpointStore.Load(path), path, [.. loaded.Skipped, $"{loaded.Directory}: step {loaded.Checkpoint.Step} is newer than another rank's newest ({agreed})"]);
    }

    /// <summary>
    /// For a resumed run: checks that the effective settings continue the checkpoint, re-positions
    /// the data stream, restores the trainer and rewrites metrics.jsonl to the evaluations made so
    /// far (dropping lines an interrupted process wrote after its last checkpoint).
    /// </summary>
    /// <param name="metricsLine">Formats a metrics.jsonl line; null leaves the file to another rank.</param>
    public static void Continue(Resume r, string command, SaeTrainer trainer, DataSource data, TextWriter stderr, Func<EvaluationReport, string>? metricsLine)
    {
        var c = r.Loaded.Checkpoint;
        var options = trainer.Options;
        c.EnsureCompatible(options, data.Train.Dim, r.Loaded.Directory);
        var savedData = Without(c.Application?["data"], "files");
        var nowData = Without(data.Config, "files");
        if (!JsonNode.DeepEquals(savedData, nowData))
            throw new InvalidDataException($"{r.Loaded.Directory}: the checkpoint was trained on {savedData?.ToJsonString()}, this run reads {nowData?.ToJsonString()}.");
        string kernels = trainer.Model.Kernels.ToString().ToLowerInvariant();
        if (c.Kernels != kernels || c.Options.Threads != options.Threads)
            stderr.WriteLine($"gba {command}: warning: the checkpoint ran with kernels {c.Kernels} on {c.Options.Threads} threads, this run uses {kernels} on {options.Threads}: " +
                             "the result will match an uninterrupted run only up to rounding");
        data.RestoreTrainStream(c.Stream);
        trainer.Restore(c, r.Loaded.Directory);
        stderr.WriteLine($"gba {command}: resuming {r.RunDirectory} from step {c.Step} of {options.Steps} ({Path.GetFileName(r.Loaded.Directory)})");

        if (metricsLine is null) return;
        var metrics = Path.Combine(r.RunDirectory, "metrics.jsonl");
        var tmp = metrics + ".tmp-" + Environment.ProcessId;
        File.WriteAllLines(tmp, c.EvaluationsFor(options).Select(metricsLine));
        File.Move(tmp, metrics, overwrite: true);
    }

    /// <summary>A fresh run must not silently mix with the checkpoints of an earlier one.</summary>
    public static void EnsureFresh(string outDir, string command)
    {
        if (File.Exists(Path.Combine(outDir, Folder, RanksFile)))
            throw new UsageException($"{outDir} already holds checkpoints of a run over {SavedRanks(outDir)} MPI ranks: continue it with 'gba {command} --resume {outDir}' on as many ranks, or choose another --out");
        var store = new CheckpointStore(Path.Combine(outDir, Folder));
        if (store.List() is [var (step, _), ..])
            throw new UsageException($"{outDir} already holds checkpoints of a run (newest: step {step}): continue it with 'gba {command} --resume {outDir}', or choose another --out");
    }

    /// <summary>The schedule that writes OUT/checkpoints/, carrying what `--resume` needs to rebuild the run; null without --out.</summary>
    public static CheckpointSchedule? Schedule(string? outDir, string command, IReadOnlyList<string> args,
        OptionReader o, TrainerOptions options, DataSource data) => Schedule(outDir, command, args, o, options, data, SingleProcessCommunicator.Instance);

    /// <summary>As the single-process overload, writing this rank's checkpoints (rank 0 also writes the ranks manifest).</summary>
    public static CheckpointSchedule? Schedule(string? outDir, string command, IReadOnlyList<string> args,
        OptionReader o, TrainerOptions options, DataSource data, Communicator comm)
    {
        if (outDir is null)
        {
            if (o.Has("--checkpoint-every") || o.Has("--keep-checkpoints")) throw new UsageException("--checkpoint-every and --keep-checkpoints need --out DIR");
            return null;
        }
        long every = o.Long("--checkpoint-every", CheckpointSchedule.DefaultEverySteps);
        int keep = o.Int("--keep-checkpoints", 3);
        if (every < 0) throw new UsageException("--checkpoint-every must be 0 (only at the end and on interrupt) or a positive number of steps");
        if (keep < 1) throw new UsageException("--keep-checkpoints must be at least 1");
        var saved = Parse(args).Where(a => !TrainOptions.RunControl.Contains(a.Name)).ToList();
        if (!saved.Exists(a => a.Name == "--threads")) saved.Add(new Arg("--threads", options.Threads.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (comm.Size > 1 && comm.Rank == 0)
        {
            Directory.CreateDirectory(Path.Combine(outDir, Folder));
            RunConfig.WriteAtomically(Path.Combine(outDir, Folder, RanksFile), new JsonObject { ["ranks"] = comm.Size, ["neurons"] = options.Neurons });
        }
        return new CheckpointSchedule(new CheckpointStore(StoreDirectory(outDir, comm), keep), every)
        {
            Application = new JsonObject
            {
                ["command"] = command,
                ["args"] = new JsonArray(Format(saved).Select(s => (JsonNode)s).ToArray()),
                ["data"] = data.Config.DeepClone(),
            },
        };
    }

    /// <summary>The message (and exit code) of a run stopped by a signal.</summary>
    public static int Interrupted(string command, OperationCanceledException e, string? outDir, CheckpointSchedule? schedule, TextWriter stderr, int ranks = 1)
    {
        string launch = ranks > 1 ? $"mpirun -np {ranks} " : "";
        var store = schedule?.Sink as CheckpointStore;
        if (store?.LastWritten is { } written && outDir is not null)
            stderr.WriteLine($"gba {command}: interrupted: {e.Message.TrimEnd('.')}; checkpoint written to {written}\n" +
                             $"Resume with: {launch}gba {command} --resume {Quote(outDir)}" + (ranks > 1 ? $" (or srun with {ranks} tasks: the same number of ranks)" : ""));
        else
            stderr.WriteLine($"gba {command}: interrupted before any checkpoint was written; nothing saved" + (outDir is null ? " (give --out DIR to checkpoint)" : ""));
        return CliApp.Interrupted;
    }

    static string FullPath(string dir) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));

    static string Quote(string s) => s.Any(c => char.IsWhiteSpace(c) || "'\"$`\\*?&;|<>()".Contains(c)) ? "'" + s.Replace("'", "'\\''") + "'" : s;

    static JsonNode? Without(JsonNode? node, string key)
    {
        if (node is not JsonObject o) return node?.DeepClone();
        var copy = (JsonObject)o.DeepClone();
        copy.Remove(key);
        return copy;
    }

    /// <summary>One command-line option (Name "" for a positional argument) and its value.</summary>
    public readonly record struct Arg(string Name, string? Value);

    /// <summary>Splits arguments the way <see cref="OptionReader"/> reads them; positional ones (data paths) become --data.</summary>
    public static List<Arg> Parse(IReadOnlyList<string> args)
    {
        var list = new List<Arg>();
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--") { list.Add(new Arg("--data", a)); continue; }
            int eq = a.IndexOf('=');
            string name = eq > 0 ? a[..eq] : a;
            if (!TrainOptions.ValueOptions.Contains(name)) list.Add(new Arg(name, null));
            else list.Add(new Arg(name, eq > 0 ? a[(eq + 1)..] : i + 1 < args.Count ? args[++i] : null));
        }
        return list;
    }

    public static IEnumerable<string> Format(IEnumerable<Arg> args) =>
        args.SelectMany(a => a.Value is null ? new[] { a.Name } : [a.Name, a.Value]);

    /// <summary>Saved arguments overridden by the given ones, option by option (--steps and --tokens count as one).</summary>
    static string[] Merge(List<Arg> saved, List<Arg> given)
    {
        var names = given.Select(a => a.Name).ToHashSet();
        if (names.Contains("--steps") || names.Contains("--tokens")) { names.Add("--steps"); names.Add("--tokens"); }
        return Format(saved.Where(a => !names.Contains(a.Name)).Concat(given)).ToArray();
    }

    /// <summary>Reads the CLI's part of a checkpoint, naming the checkpoint when it is malformed.</summary>
    sealed class CheckpointJson(string source)
    {
        public string String(JsonObject? app, string key) =>
            app?[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s
                : throw new InvalidDataException($"{source}: the checkpoint has no \"{key}\" of a gba command (written by another program?).");

        public string[] Args(JsonObject? app) =>
            app?["args"] is JsonArray a && a.All(n => n is JsonValue v && v.TryGetValue<string>(out _))
                ? a.Select(n => n!.GetValue<string>()).ToArray()
                : throw new InvalidDataException($"{source}: the checkpoint has no \"args\" of a gba command (written by another program?).");
    }
}
