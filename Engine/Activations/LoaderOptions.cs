using GbaEngine.Formats;
namespace GbaEngine.Activations;

/// <summary>What NaN/inf rows do: stop with an error naming file and row, or be skipped and counted.</summary>
public enum NonFiniteRows
{
    /// <summary>A NaN/Inf row is an error naming the file and row.</summary>
    Error,
    /// <summary>NaN/Inf rows are skipped and counted.</summary>
    Skip,
}

/// <summary>How shard data is read.</summary>
public enum FileReads
{
    /// <summary>
    /// Memory-mapped (the default): no copies, the page cache serves reads. A file truncated while in use
    /// is caught by size checks at shard boundaries, window loads and checkpoints; one truncated between a
    /// check and a read faults the process, which .NET cannot catch.
    /// </summary>
    Mapped,
    /// <summary>Read through the file handle into a buffer (one copy more): a file truncated while in use is always an error naming the file.</summary>
    Buffered,
}

/// <summary>
/// How a dataset is opened: how to read raw files, which safetensors tensor, how many rows to use
/// and how many of those to hold out for evaluation. The held-out rows are the last ones of the
/// (limited) dataset, so the split is deterministic and independent of the seed.
/// </summary>
public sealed record LoaderOptions
{
    /// <summary>Element type of raw binary shards (files that are neither .npy nor .safetensors).</summary>
    public ActivationDType? RawDType { get; init; }
    /// <summary>Row width d of raw binary shards.</summary>
    public int? RawDim { get; init; }
    /// <summary>The safetensors tensor to read; null takes the only tensor of each file.</summary>
    public string? TensorName { get; init; }
    /// <summary>Use only the first RowLimit rows of the dataset (before the eval split).</summary>
    public long? RowLimit { get; init; }
    /// <summary>Hold out this fraction [0, 1) of the used rows (rounded down) for evaluation.</summary>
    public double EvalFraction { get; init; }
    /// <summary>Hold out exactly this many rows for evaluation (overrides EvalFraction).</summary>
    public long? EvalRows { get; init; }
    /// <summary>What to do with NaN/Inf rows.</summary>
    public NonFiniteRows NonFinite { get; init; } = NonFiniteRows.Error;
    /// <summary>How rows are read: mapped (default) or buffered (for files that may change while a run reads them).</summary>
    public FileReads Reads { get; init; } = FileReads.Mapped;

    internal void Validate()
    {
        if (RawDim is < 1) throw new ArgumentOutOfRangeException(nameof(RawDim), RawDim, "RawDim must be at least 1.");
        if (RawDType is not null != RawDim is not null) throw new ArgumentException("Raw files need both RawDType and RawDim.");
        if (RowLimit is < 1) throw new ArgumentOutOfRangeException(nameof(RowLimit), RowLimit, "RowLimit must be at least 1.");
        if (!(EvalFraction >= 0 && EvalFraction < 1)) throw new ArgumentOutOfRangeException(nameof(EvalFraction), EvalFraction, "EvalFraction must be in [0, 1).");
        if (EvalRows is < 0) throw new ArgumentOutOfRangeException(nameof(EvalRows), EvalRows, "EvalRows must be non-negative.");
    }
}
