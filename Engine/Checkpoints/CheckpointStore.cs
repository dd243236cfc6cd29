using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Training;

namespace GbaEngine.Checkpoints;

/// <summary>A checkpoint read from disk, and the newer ones that could not be read (with why).</summary>
public sealed record LoadedCheckpoint(TrainingCheckpoint Checkpoint, string Directory, IReadOnlyList<string> Skipped);

/// <summary>
/// A directory of checkpoints, one sub-directory per step (step-000001000/) holding
/// tensors.safetensors (parameter buffer, AdamW moments, GBA statistics, group ids), state.json
/// (step, options, stream state, input scale, evaluations) and manifest.json (size and SHA-256 of
/// both). Each is written into a hidden temporary directory, every file flushed to the device, the
/// manifest last, the directory flushed, then renamed into place and the parent flushed: a
/// directory named step-* is complete, and a kill at any moment leaves the previous ones intact.
/// Only then are checkpoints beyond the newest <see cref="Keep"/> (and any from a later step, which
/// belong to a history this run has replaced) removed, each by an atomic rename before deletion.
/// Loading takes the newest checkpoint whose files match their manifest and falls back past
/// damaged ones.
/// </summary>
public sealed class CheckpointStore : ICheckpointSink
{
    const string StatePrefix = "step-", TempPrefix = ".tmp-", TrashPrefix = ".trash-";
    const string TensorsFile = "tensors.safetensors", StateFile = "state.json", ManifestFile = "manifest.json";
    const long MaxJsonBytes = 256L << 20;
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>A store of checkpoint directories under <paramref name="directory"/>, keeping the newest <paramref name="keep"/>.</summary>
    public CheckpointStore(string directory, int keep = 3)
    {
        if (keep < 1) throw new ArgumentOutOfRangeException(nameof(keep), keep, "Keep at least one checkpoint.");
        Directory = Path.GetFullPath(directory);
        Keep = keep;
    }

    /// <summary>The directory holding the step-* checkpoints.</summary>
    public string Directory { get; }
    /// <summary>How many complete checkpoints to keep.</summary>
    public int Keep { get; }
    /// <summary>The directory of the last checkpoint this store wrote, if any.</summary>
    public string? LastWritten { get; private set; }

    /// <summary>The step-* directories (complete or not), newest step first.</summary>
    public IReadOnlyList<(long Step, string Path)> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        var found = new List<(long, string)>();
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Directory, StatePrefix + "*"))
            if (long.TryParse(Path.GetFileName(dir).AsSpan(StatePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out long step))
                found.Add((step, dir));
        found.Sort((a, b) => b.Item1.CompareTo(a.Item1));
        return found;
    }

    /// <summary>Writes a checkpoint durably, then prunes; returns its directory.</summary>
    public string Write(TrainingCheckpoint c)
    {
        System.IO.Directory.CreateDirectory(Directory);
        string name = StatePrefix + c.Step.ToString("D9", CultureInfo.InvariantCulture);
        string final = Path.Combine(Directory, name);
        string tmp = Path.Combine(Directory, $"{TempPrefix}{name}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(tmp);
        try
        {
            var files = new List<ManifestEntry>();
            using (var w = new HashedFileWriter(Path.Combine(tmp, TensorsFile)))
            {
                CheckpointTensors.Write(w,
                [
                    CheckpointTensors.Source.Floats("parameters", c.Parameters),
                    CheckpointTensors.Source.Floats("adam_m1", c.Moment1),
                    CheckpointTensors.Source.Floats("adam_m2", c.Moment2),
                    CheckpointTensors.Source.Longs("fire_count", c.FireCount),
                    CheckpointTensors.Source.Floats("max_y", c.MaxY),
                    CheckpointTensors.Source.Ints("group_of", c.GroupOf),
                    CheckpointTensors.Source.Longs("tokens_since_fired", c.TokensSinceFired),
                ]);
                files.Add(w.Complete());
            }
            using (var w = new HashedFileWriter(Path.Combine(tmp, StateFile)))
            {
                w.Write(Encoding.UTF8.GetBytes(CheckpointJson.WriteState(c, c.Parameters.Length).ToJsonString(Indented)));
                files.Add(w.Complete());
            }
            var manifest = new JsonObject
            {
                ["format"] = CheckpointJson.Format,
                ["version"] = TrainingCheckpoint.FormatVersion,
                ["step"] = c.Step,
                ["files"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject { ["name"] = f.Name, ["bytes"] = f.Bytes, ["sha256"] = f.Sha256 }).ToArray()),
            };
            using (var fs = new FileStream(Path.Combine(tmp, ManifestFile), FileMode.CreateNew, FileAccess.Write))
            {
                fs.Write(Encoding.UTF8.GetBytes(manifest.ToJsonString(Indented)));
                fs.Flush(flushToDisk: true);
            }
            DirectorySync.Flush(tmp);

            if (System.IO.Directory.Exists(final)) Discard(final);   // the same step again, e.g. after a resume
            System.IO.Directory.Move(tmp, final);
            DirectorySync.Flush(Directory);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        LastWritten = final;
        Prune(c.Step);
        return final;
    }

    void ICheckpointSink.Save(TrainingCheckpoint checkpoint) => Write(checkpoint);

    /// <summary>Removes checkpoints past the newest Keep, any later than <paramref name="current"/>, and leftovers of killed writers.</summary>
    void Prune(long current)
    {
        int kept = 0;
        foreach (var (step, path) in List())
        {
            if (step == current || (step < current && kept < Keep - 1 && File.Exists(Path.Combine(path, ManifestFile))))
            {
                if (step != current) kept++;
                continue;
            }
            Discard(path);
        }
        foreach (var dir in System.IO.Directory.EnumerateDirectories(Directory, ".*"))
        {
            var n = Path.GetFileName(dir);
            if (n.StartsWith(TrashPrefix, StringComparison.Ordinal) || (n.StartsWith(TempPrefix, StringComparison.Ordinal) && !n.Contains($"-{Environment.ProcessId}-", StringComparison.Ordinal)))
                TryDelete(dir);
        }
    }

    /// <summary>Renames a checkpoint out of the step-* namespace (atomic), then deletes it.</summary>
    void Discard(string path)
    {
        string trash = Path.Combine(Directory, $"{TrashPrefix}{Path.GetFileName(path)}-{Guid.NewGuid():N}");
        System.IO.Directory.Move(path, trash);
        DirectorySync.Flush(Directory);
        TryDelete(trash);
    }

    static void TryDelete(string dir)
    {
        try { System.IO.Directory.Delete(dir, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>
    /// The newest checkpoint that reads back intact. Damaged or incomplete newer ones are skipped and
    /// listed (path and reason) in <see cref="LoadedCheckpoint.Skipped"/>; if none is readable, one
    /// <see cref="InvalidDataException"/> names each checkpoint and what is wrong with it.
    /// </summary>
    public LoadedCheckpoint LoadLatest()
    {
        var all = List();
        if (all.Count == 0) throw new InvalidDataException($"{Directory}: no checkpoints (step-* directories) to resume from.");
        var skipped = new List<string>();
        foreach (var (_, path) in all)
        {
            try { return new LoadedCheckpoint(Load(path), path, skipped); }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                skipped.Add(e.Message);
            }
        }
        throw new InvalidDataException($"{Directory}: no loadable checkpoint: {string.Join("; ", skipped)}");
    }

    /// <summary>Reads one checkpoint directory, verifying every file against the manifest.</summary>
    public static TrainingCheckpoint Load(string directory)
    {
        var manifestPath = Path.Combine(directory, ManifestFile);
        if (!File.Exists(manifestPath)) throw new InvalidDataException($"{manifestPath}: missing (the checkpoint is incomplete).");
        var mr = new CheckpointJson.Reader(manifestPath);
        var manifest = ParseJson(manifestPath, File.ReadAllBytes(manifestPath));
        if (mr.String(manifest, "format") != CheckpointJson.Format) throw mr.Error($"not a {CheckpointJson.Format} manifest");
        int version = mr.Int(manifest, "version");
        if (version != TrainingCheckpoint.FormatVersion)
            throw mr.Error($"format version {version}, this engine reads version {TrainingCheckpoint.FormatVersion}");
        var entries = new Dictionary<string, ManifestEntry>();
        foreach (var node in mr.Array(manifest, "files"))
        {
            var f = mr.AsObject(node, "files");
            var entry = new ManifestEntry(mr.String(f, "name"), mr.Long(f, "bytes"), mr.String(f, "sha256"));
            if (entry.Name is not (StateFile or TensorsFile)) throw mr.Error($"unexpected file \"{entry.Name}\"");
            entries[entry.Name] = entry;
        }
        if (!entries.TryGetValue(StateFile, out var stateEntry) || !entries.TryGetValue(TensorsFile, out var tensorEntry))
            throw mr.Error($"must list {StateFile} and {TensorsFile}");

        JsonObject state;
        string statePath;
        using (var r = new HashedFileReader(directory, stateEntry))
        {
            statePath = r.Path;
            if (stateEntry.Bytes > MaxJsonBytes) throw new InvalidDataException($"{r.Path}: {stateEntry.Bytes} bytes is too large for a state file.");
            var bytes = new byte[stateEntry.Bytes];
            r.ReadExactly(bytes);
            r.VerifyDigest();
            state = ParseJson(r.Path, bytes);
        }
        var sr = new CheckpointJson.Reader(statePath);
        if (sr.String(state, "format") != CheckpointJson.Format) throw sr.Error($"not a {CheckpointJson.Format} file");
        if (sr.Int(state, "version") != TrainingCheckpoint.FormatVersion) throw sr.Error($"format version {sr.Int(state, "version")}, expected {TrainingCheckpoint.FormatVersion}");
        var options = TrainerOptionsJson.Read(sr.Object(state, "options"), statePath);
        long parameterCount = sr.Long(state, "parameter_count");
        if (parameterCount < 0 || options.Neurons < 1) throw sr.Error("parameter_count and neurons must be positive");
        var shard = CheckpointJson.ReadShard(state, sr, options.Neurons);
        int neurons = shard?.Count ?? options.Neurons;   // the per-neuron tensors of a sharded run hold its rank's neurons
        int groups = options.TargetFrequencies().Length == 0 ? 0 : options.Neurons;   // as the trainer: only GBA and BA have groups

        Dictionary<string, Array> t;
        using (var r = new HashedFileReader(directory, tensorEntry))
            t = CheckpointTensors.Read(r, new Dictionary<string, (string, long)>
            {
                ["parameters"] = ("F32", parameterCount), ["adam_m1"] = ("F32", parameterCount), ["adam_m2"] = ("F32", parameterCount),
                ["fire_count"] = ("I64", neurons), ["max_y"] = ("F32", neurons), ["group_of"] = ("I32", groups),
                ["tokens_since_fired"] = ("I64", options.TracksDeadLatents ? neurons : 0),
            });

        return new TrainingCheckpoint
        {
            Options = options,
            Dim = sr.Int(state, "dim"),
            Step = sr.Long(state, "step"),
            Tokens = sr.Long(state, "tokens"),
            Seconds = sr.Double(state, "seconds"),
            InputScale = (float)sr.Double(state, "input_scale"),
            Parameters = (float[])t["parameters"],
            Moment1 = (float[])t["adam_m1"],
            Moment2 = (float[])t["adam_m2"],
            FireCount = (long[])t["fire_count"],
            MaxY = (float[])t["max_y"],
            StatisticsTokens = sr.Long(state, "statistics_tokens"),
            GroupOf = (int[])t["group_of"],
            TokensSinceFired = (long[])t["tokens_since_fired"],
            Stream = CheckpointJson.ReadStream(sr.Object(state, "stream"), sr),
            Evaluations = sr.Array(state, "evaluations").Select(e => CheckpointJson.ReadEvaluation(sr.AsObject(e, "evaluations"), sr)).ToArray(),
            Kernels = sr.String(state, "kernels"),
            BaselineState = state["baseline_state"] as JsonObject,
            Application = state["application"] as JsonObject,
            Shard = shard,
        };
    }

    /// <summary>Parses and fully materialises a JSON object, so damage surfaces here as one error naming the file, not on a later lookup.</summary>
    internal static JsonObject ParseJson(string path, ReadOnlySpan<byte> bytes)
    {
        try
        {
            var text = StrictUtf8.GetString(bytes);
            var node = JsonNode.Parse(text) as JsonObject ?? throw new InvalidDataException($"{path}: not a JSON object.");
            _ = node.Count;
            return node;
        }
        catch (DecoderFallbackException) { throw new InvalidDataException($"{path}: not valid UTF-8."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})."); }
    }

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
