using GbaEngine.Memory;
using GbaEngine.Model;

namespace GbaEngine.Encoders;

/// <summary>Receives the chunks of a token set that <see cref="ChunkedEncoder"/> encodes, in token order.</summary>
public interface IEncodedChunkVisitor
{
    /// <summary>One chunk, valid only during the call.</summary>
    /// <param name="first">Index in the set of the chunk's first token.</param>
    /// <param name="rows">Tokens in the chunk.</param>
    /// <param name="normalized">[rows × Stride] the tokens as the model sees them (normalised, padding zero).</param>
    /// <param name="factors">[rows] each token's factor back to the original scale (1/s, or its norm).</param>
    /// <param name="code">The chunk's sparse code (h, with f = a·h in the normalised space).</param>
    void Visit(int first, int rows, ReadOnlySpan<float> normalized, ReadOnlySpan<float> factors, SparseCode code);
}

/// <summary>
/// The one "encode a token set in chunks" loop: every evaluator and per-neuron statistic runs a trained
/// SAE over its tokens through here, so each model is encoded by its own encoder (the fused threshold /
/// TopK encoder, or matching pursuit for an MP-SAE) and memory stays bounded by the chunk.
/// Chunks are normalised with <see cref="SparseAutoencoder.NormalizeBatch(ReadOnlySpan{float}, int, Span{float}, Span{float})"/>
/// and encoded exactly as training encodes a batch, so codes are bitwise those of the trainer's encoder.
/// </summary>
public sealed class ChunkedEncoder : IDisposable
{
    /// <summary>Tokens per chunk unless asked otherwise.</summary>
    public const int DefaultChunkRows = 1024;

    readonly SparseAutoencoder _sae;
    readonly BatchEncoder? _encoder;
    readonly MatchingPursuitEncoder? _pursuit;
    readonly SparseCode _code = new();
    readonly AlignedArray _x;
    readonly float[] _factors;
    readonly int _chunkRows;

    /// <param name="sae">The model; its architecture decides the encoder.</param>
    /// <param name="threads">Worker threads of the encoder (results do not depend on them).</param>
    /// <param name="chunkRows">Tokens per chunk.</param>
    public ChunkedEncoder(SparseAutoencoder sae, int threads, int chunkRows = DefaultChunkRows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkRows, 1);
        _sae = sae;
        _chunkRows = chunkRows;
        if (sae.Architecture.Sparsity == SparsityMode.MatchingPursuit)
            _pursuit = new MatchingPursuitEncoder(sae.Architecture, sae.Parameters, chunkRows, threads, sae.Kernels);
        else
            _encoder = new BatchEncoder(sae.Architecture, sae.Parameters, chunkRows, threads, sae.Kernels);
        _x = new AlignedArray((long)chunkRows * sae.Parameters.Stride);
        _factors = new float[chunkRows];
    }

    /// <summary>Encodes <paramref name="count"/> tokens [count × d] (original scale), chunk by chunk, handing each to
    /// <paramref name="visitor"/>; <paramref name="stats"/>, if given, gathers the encoder's firing statistics.</summary>
    public void Encode(ReadOnlySpan<float> tokens, int count, IEncodedChunkVisitor visitor, FiringStatistics? stats = null)
    {
        int d = _sae.Dim, stride = _sae.Parameters.Stride;
        if (tokens.Length < (long)count * d) throw new ArgumentException($"{tokens.Length} floats hold fewer than {count} tokens of d = {d}.", nameof(tokens));
        for (int start = 0; start < count; start += _chunkRows)
        {
            int rows = Math.Min(_chunkRows, count - start);
            _sae.NormalizeBatch(tokens.Slice(start * d, rows * d), rows, _x.Span, _factors);
            if (_pursuit != null) _pursuit.Encode(_x, rows, _code, stats);
            else _encoder!.Encode(_x, rows, _code, stats);
            visitor.Visit(start, rows, _x.Span[..(rows * stride)], _factors.AsSpan(0, rows), _code);
        }
    }

    /// <summary>Releases the encoder's threads.</summary>
    public void Dispose()
    {
        _encoder?.Dispose();
        _pursuit?.Dispose();
    }
}
