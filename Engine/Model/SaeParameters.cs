using GbaEngine.Memory;

namespace GbaEngine.Model;

/// <summary>
/// Every parameter of an SAE in one flat, 64-byte-aligned buffer (llm.c style): the optimizer is one
/// loop over it, gradients and Adam moments are buffers of the same layout, and a checkpoint is one
/// write. Rows of the weight matrices are padded to <see cref="Stride"/> floats (a multiple of 16) so
/// kernels run whole vectors; the padding is kept at zero (its gradient is always zero).
/// Layout: W_dec [M × Stride] | W_enc [M × Stride] (untied only) | a [M] | b_pre [Stride] | b [M],
/// each segment starting on a 16-float boundary.
/// </summary>
public sealed class SaeParameters
{
    /// <summary>A zeroed buffer for an SAE of width <paramref name="dim"/> and <paramref name="neurons"/> neurons.</summary>
    public SaeParameters(int dim, int neurons, bool tied)
    {
        Dim = dim;
        Neurons = neurons;
        Tied = tied;
        Stride = AlignedArray.PadToLine(dim);
        long matrix = (long)neurons * Stride;
        int mPad = AlignedArray.PadToLine(neurons);
        DecoderOffset = 0;
        EncoderOffset = tied ? 0 : matrix;
        ScaleOffset = tied ? matrix : 2 * matrix;
        PreBiasOffset = ScaleOffset + mPad;
        BiasOffset = PreBiasOffset + Stride;
        long total = BiasOffset + mPad;
        if (total > Array.MaxLength - 64)
            throw new ArgumentException($"SAE with d = {dim}, M = {neurons} has {total} parameters: more than one buffer can hold.");
        Data = new AlignedArray(total);
    }

    /// <summary>Input width d.</summary>
    public int Dim { get; }
    /// <summary>Number of neurons M.</summary>
    public int Neurons { get; }
    /// <summary>Whether one matrix encodes and decodes.</summary>
    public bool Tied { get; }
    /// <summary>Row stride of the weight matrices (d rounded up to 16 floats).</summary>
    public int Stride { get; }
    internal AlignedArray Data { get; }

    /// <summary>Offset of W_dec in the flat buffer.</summary>
    public long DecoderOffset { get; }
    /// <summary>Offset of W_enc (W_dec's when tied).</summary>
    public long EncoderOffset { get; }
    /// <summary>Offset of a.</summary>
    public long ScaleOffset { get; }
    /// <summary>Offset of b_pre.</summary>
    public long PreBiasOffset { get; }
    /// <summary>Offset of b.</summary>
    public long BiasOffset { get; }

    /// <summary>[M × Stride] decoder rows w_m (unit norm after every training step).</summary>
    public Span<float> Decoder => Data.Span.Slice((int)DecoderOffset, Neurons * Stride);
    /// <summary>[M × Stride] encoder rows; the same memory as <see cref="Decoder"/> when tied.</summary>
    public Span<float> Encoder => Data.Span.Slice((int)EncoderOffset, Neurons * Stride);
    /// <summary>[M] per-neuron output scale a.</summary>
    public Span<float> Scale => Data.Span.Slice((int)ScaleOffset, Neurons);
    /// <summary>[d] centring bias b_pre (padded to Stride with zeros).</summary>
    public Span<float> PreBias => Data.Span.Slice((int)PreBiasOffset, Stride);
    /// <summary>[M] per-neuron bias b.</summary>
    public Span<float> Bias => Data.Span.Slice((int)BiasOffset, Neurons);

    /// <summary>Decoder row w_m [Stride] (padding included).</summary>
    public Span<float> DecoderRow(int m) => Data.Span.Slice((int)DecoderOffset + m * Stride, Stride);
    /// <summary>Encoder row u_m [Stride] (w_m when tied).</summary>
    public Span<float> EncoderRow(int m) => Data.Span.Slice((int)EncoderOffset + m * Stride, Stride);

    /// <summary>A zeroed buffer of the same layout (gradients, Adam moments).</summary>
    public SaeParameters CloneShape() => new(Dim, Neurons, Tied);

    /// <summary>Copies every parameter of <paramref name="other"/> (same layout).</summary>
    public void CopyFrom(SaeParameters other)
    {
        if (other.Data.Length != Data.Length || other.Tied != Tied || other.Dim != Dim)
            throw new ArgumentException("Parameter layouts differ.");
        other.Data.Span.CopyTo(Data.Span);
    }
}
