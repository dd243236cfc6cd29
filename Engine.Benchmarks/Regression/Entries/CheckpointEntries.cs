using GbaEngine.Checkpoints;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// Writing the settled GBA trainer's checkpoint (parameters, both AdamW moments, statistics; SHA-256
/// manifest; fsync; atomic rename) through <see cref="CheckpointStore"/>, over the previous one of
/// the same step, as a resumed run does. On the CPU clock the device's flush is not counted (its
/// wait is no CPU time); the wall clock in the samples has it.
/// </summary>
internal sealed class CheckpointWriteEntry : RegressionEntry
{
    readonly TrainingCheckpoint _checkpoint;
    readonly CheckpointStore _store;

    public CheckpointWriteEntry(WarmState settled, string directory)
    {
        _checkpoint = settled.Checkpoint;
        _store = new CheckpointStore(directory, keep: 1);
        Written = _store.Write(_checkpoint);
        Bytes = Directory.EnumerateFiles(Written).Sum(f => new FileInfo(f).Length);
        Parameters = new Dictionary<string, string>
        {
            ["checkpoint"] = $"GBA trainer, d {settled.Checkpoint.Dim} x M {SuiteShape.Neurons}, {Bytes} bytes",
        };
    }

    /// <summary>The checkpoint directory (the read entry loads it).</summary>
    public string Written { get; }
    public long Bytes { get; }

    public override string Name => "checkpoint/write";
    public override string WorkUnit => "GB";
    public override double WorkPerOp => Bytes / 1e9;
    public override int Threads => 1;
    public override IReadOnlyDictionary<string, string> Parameters { get; }

    public override void Run() => _store.Write(_checkpoint);
}

/// <summary>Reading a checkpoint back (<see cref="CheckpointStore.Load"/>: manifest, SHA-256 of every file, tensors, state) from the page cache.</summary>
internal sealed class CheckpointReadEntry(string directory, long bytes) : RegressionEntry
{
    public override string Name => "checkpoint/read";
    public override string WorkUnit => "GB";
    public override double WorkPerOp => bytes / 1e9;
    public override int Threads => 1;
    public override IReadOnlyDictionary<string, string> Parameters { get; } = new Dictionary<string, string>
    {
        ["checkpoint"] = $"the checkpoint/write entry's, {bytes} bytes, in the page cache",
    };

    public override void Run() => CheckpointStore.Load(directory);
}
