namespace GbaEngine.Streams;

/// <summary>What kind of data stream a checkpoint recorded, which decides how it is re-positioned.</summary>
public enum StreamKind
{
    /// <summary>A synthetic generator: its state and position are restored directly (<c>SyntheticStream.Restore</c>).</summary>
    Synthetic,
    /// <summary>An activation-file stream: re-opened at the position with the same shuffle seed and options (<c>ActivationDataset.OpenStream</c>).</summary>
    Activations,
    /// <summary>Any other <see cref="ITokenStream"/>: the caller re-creates it at <see cref="StreamState.Position"/>.</summary>
    Other,
}

/// <summary>
/// Where a data stream stood when a checkpoint was taken, as the stream itself reports it
/// (<see cref="ITokenStream.CaptureState"/>). Synthetic streams are a pure function of their generator
/// state, activation streams of (seed, position, options) by re-derivation, so this is all an exact
/// resume needs; each stream type restores itself from it.
/// </summary>
public sealed record StreamState
{
    /// <summary>Which kind of stream recorded this state.</summary>
    public required StreamKind Kind { get; init; }
    /// <summary>Tokens (activations: source rows) consumed so far.</summary>
    public required long Position { get; init; }
    /// <summary><see cref="ITokenStream.Describe"/> of the recorded stream: a resumed stream must describe itself the same way.</summary>
    public required string Description { get; init; }
    /// <summary>Synthetic: the xoshiro256** state.</summary>
    public (ulong, ulong, ulong, ulong) Rng { get; init; }
    /// <summary>Activations: the shuffle seed.</summary>
    public ulong ShuffleSeed { get; init; }
    /// <summary>Activations: the ordering options (part of the resume contract).</summary>
    public StreamOptions? Options { get; init; }

    /// <summary>Throws unless <paramref name="stream"/> stands exactly where this state says.</summary>
    public void Verify(ITokenStream stream)
    {
        if (stream.Describe() != Description)
            throw new ArgumentException($"The checkpoint was trained on \"{Description}\", but the stream is \"{stream.Describe()}\".", nameof(stream));
        if (stream.Position != Position)
            throw new ArgumentException($"The stream is at position {stream.Position}, the checkpoint at {Position}: open it at the checkpoint's position (SyntheticStream.Restore / ActivationDataset.OpenStream).", nameof(stream));
        if (Kind == StreamKind.Synthetic && stream.CaptureState() is { Kind: StreamKind.Synthetic } now && now.Rng != Rng)
            throw new ArgumentException("The synthetic stream's generator state differs from the checkpoint's: restore it with SyntheticStream.Restore.", nameof(stream));
    }
}
