namespace GbaEngine.Streams;

/// <summary>
/// Tokens already in memory ([count × dim], row-major) as an endless stream: batches are read in
/// order and wrap around at the end (one pass = one epoch). For embedding apps that hold their
/// activations in arrays, and for benchmarks that must not time data generation.
/// </summary>
public sealed class MemoryTokenStream : ITokenStream
{
    readonly float[] _tokens;
    readonly int _count;

    /// <summary>Streams <paramref name="tokens"/> [count × dim] (not copied).</summary>
    public MemoryTokenStream(float[] tokens, int dim)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        if (tokens.Length == 0 || tokens.Length % dim != 0)
            throw new ArgumentException($"MemoryTokenStream: {tokens.Length} floats is not a positive whole number of rows of d = {dim}.", nameof(tokens));
        _tokens = tokens;
        Dim = dim;
        _count = tokens.Length / dim;
    }

    /// <summary>Row width d.</summary>
    public int Dim { get; }

    /// <summary>Tokens delivered so far (settable to re-position the stream).</summary>
    public long Position { get; set; }

    /// <summary>Token count and width, for logs.</summary>
    public string Describe() => $"{_count} in-memory tokens of d = {Dim}";

    /// <summary>Copies the next rows, wrapping at the end.</summary>
    public void NextBatch(Span<float> destination, int rows)
    {
        int d = Dim;
        for (int r = 0; r < rows; )
        {
            int at = (int)(Position % _count);
            int run = Math.Min(rows - r, _count - at);
            _tokens.AsSpan(at * d, run * d).CopyTo(destination.Slice(r * d, run * d));
            r += run;
            Position += run;
        }
    }

    /// <summary>Nothing to release.</summary>
    public void Dispose() { }
}
