namespace GbaEngine.Streams;

/// <summary>
/// What the trainer sees of its data: an endless stream of token activation rows of width
/// <see cref="Dim"/>, delivered in batches. Synthetic generators and the file loader implement it;
/// the trainer never knows which. Streams loop over their data (epochs) where data is finite.
/// </summary>
public interface ITokenStream : IDisposable
{
    /// <summary>Width d of every row.</summary>
    int Dim { get; }

    /// <summary>Tokens delivered so far (the stream position that checkpoints record).</summary>
    long Position { get; }

    /// <summary>Human-readable description for logs (file names, generator settings).</summary>
    string Describe();

    /// <summary>Fills <paramref name="rows"/> rows, row-major with stride <see cref="Dim"/>, into destination.</summary>
    void NextBatch(Span<float> destination, int rows);

    /// <summary>Where the stream stands, for a checkpoint. Streams that can re-position themselves exactly
    /// (synthetic generators, activation files) record how; any other stream records only its position.</summary>
    StreamState CaptureState() => new() { Kind = StreamKind.Other, Position = Position, Description = Describe() };
}
