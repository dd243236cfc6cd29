namespace GbaEngine.Streams;

/// <summary>
/// How a training stream orders rows. Part of the resume contract: a stream re-created at a recorded
/// Position yields the same rows only with the same seed and the same StreamOptions.
/// </summary>
public sealed record StreamOptions
{
    /// <summary>Shuffle (default) or deliver rows in file order.</summary>
    public bool Shuffle { get; init; } = true;
    /// <summary>Contiguous rows read together; the unit of the cross-shard chunk shuffle.</summary>
    public int ChunkRows { get; init; } = 256;
    /// <summary>Rows mixed together (a whole number of chunks); null picks about 256 MB of fp32, at most 65536 rows.</summary>
    public int? ShuffleBufferRows { get; init; }

    internal int ResolveBufferRows(int dim)
    {
        if (ChunkRows < 1) throw new ArgumentOutOfRangeException(nameof(ChunkRows), ChunkRows, "ChunkRows must be at least 1.");
        long rows = ShuffleBufferRows ?? Math.Max(ChunkRows, Math.Min((256L << 20) / (4L * dim), 65536));
        if (rows < ChunkRows) throw new ArgumentOutOfRangeException(nameof(ShuffleBufferRows), rows, $"ShuffleBufferRows must be at least ChunkRows ({ChunkRows}).");
        rows = rows / ChunkRows * ChunkRows;
        if (rows * dim > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(ShuffleBufferRows), rows, $"A {rows} x {dim} fp32 shuffle buffer exceeds the largest array.");
        return (int)rows;
    }
}
