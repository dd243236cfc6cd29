using GbaEngine.Activations;
using GbaEngine.Streams;
using GbaEngine.Synthetic;

namespace GbaEngine.Checkpoints;

/// <summary>What kind of data stream a checkpoint recorded, which decides how it is re-positioned.</summary>
public enum StreamKind
{
    /// <summary>A <see cref="SyntheticStream"/>: the generator state and position are restored directly.</summary>
    Synthetic,
    /// <summary>An <see cref="ActivationStream"/>: re-opened at the position with the same shuffle seed and options.</summary>
    Activations,
    /// <summary>Any other <see cref="ITokenStream"/>: the caller re-creates it at <see cref="StreamState.Position"/>.</summary>
    Other,
}

/// <summary>
/// Where the training data stream stood when a checkpoint was taken. Synthetic streams are a pure
/// function of their generator state, activation streams of (seed, position, options) by
/// re-derivation (see <see cref="ActivationStream"/>), so this is all an exact resume needs.
/// </summary>
public sealed record StreamState
{
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

    /// <summary>Records the state of <paramref name="stream"/>.</summary>
    public static StreamState Capture(ITokenStream stream) => stream switch
    {
        SyntheticStream s => new StreamState { Kind = StreamKind.Synthetic, Position = s.Position, Description = s.Describe(), Rng = s.State.Rng },
        ActivationStream a => new StreamState
        {
            Kind = StreamKind.Activations, Position = a.Position, Description = a.Describe(), ShuffleSeed = a.Seed, Options = a.Options,
        },
        _ => new StreamState { Kind = StreamKind.Other, Position = stream.Position, Description = stream.Describe() },
    };

    /// <summary>Moves a freshly opened synthetic stream of the same model to the recorded state.</summary>
    public void RestoreInto(SyntheticStream stream)
    {
        if (Kind != StreamKind.Synthetic) throw new ArgumentException($"The checkpoint recorded a {Kind} stream, not a synthetic one.", nameof(stream));
        stream.State = (Rng, Position);
    }

    /// <summary>Opens the training stream of <paramref name="dataset"/> at the recorded position, seed and options.</summary>
    public ActivationStream Open(ActivationDataset dataset)
    {
        if (Kind != StreamKind.Activations) throw new ArgumentException($"The checkpoint recorded a {Kind} stream, not an activation stream.", nameof(dataset));
        return dataset.OpenStream(ShuffleSeed, Position, Options);
    }

    /// <summary>Throws unless <paramref name="stream"/> stands exactly where this state says.</summary>
    public void Verify(ITokenStream stream)
    {
        if (stream.Describe() != Description)
            throw new ArgumentException($"The checkpoint was trained on \"{Description}\", but the stream is \"{stream.Describe()}\".", nameof(stream));
        if (stream.Position != Position)
            throw new ArgumentException($"The stream is at position {stream.Position}, the checkpoint at {Position}: open it at the checkpoint's position (StreamState.RestoreInto / Open).", nameof(stream));
        if (Kind == StreamKind.Synthetic && stream is SyntheticStream s && s.State.Rng != Rng)
            throw new ArgumentException("The synthetic stream's generator state differs from the checkpoint's: restore it with StreamState.RestoreInto.", nameof(stream));
    }
}
