using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Rng;

namespace GbaEngine.Tests.Training;

/// <summary>How <see cref="EncoderProblem.Random"/> draws the encoder bias b when the values are not quantised.</summary>
internal enum BiasDraw
{
    /// <summary>0.3·N(0, 1): either sign, so some neurons fire at z = 0.</summary>
    Gaussian,
    /// <summary>−U(0, 1)·√d: below zero on the scale of z, as a threshold.</summary>
    BelowSqrtDim,
}

/// <summary>
/// Random SAEs and batches for the encoders' property tests, the padded batch the encoder reads, and the
/// dense Z [rows × M] the engine's SGEMM computes, which an encoder's output is compared against.
/// </summary>
internal static class EncoderProblem
{
    /// <summary>
    /// Parameters and a batch x [rows × dim] from one seeded generator, drawn in a fixed order (rows of W_dec
    /// and W_enc interleaved, then b, then b_pre when <paramref name="drawPreBias"/>, then x) with a = 1.
    /// Quantised values (weights and x in −2..2, b in −2..0, b_pre in −1..1) make many pre-activations exactly
    /// equal (ties across tokens and lanes), and the SGEMM computes small integers exactly in any order;
    /// otherwise weights are N(0, 1), x is <paramref name="inputScale"/>·N(0, 1), b_pre is 0.1·N(0, 1) and b
    /// follows <paramref name="bias"/>.
    /// </summary>
    public static (SaeParameters P, float[] X) Random(int rows, int dim, int neurons, bool tied, bool quantized, ulong seed,
        BiasDraw bias, bool drawPreBias, double inputScale = 1)
    {
        var p = new SaeParameters(dim, neurons, tied);
        var rng = new Xoshiro256(seed);
        float Weight() => quantized ? rng.NextInt(5) - 2 : (float)rng.NextGaussian();
        for (int m = 0; m < neurons; m++)
            for (int j = 0; j < dim; j++)
            {
                p.DecoderRow(m)[j] = Weight();
                if (!tied) p.EncoderRow(m)[j] = Weight();
            }
        for (int m = 0; m < neurons; m++)
        {
            p.Scale[m] = 1f;
            p.Bias[m] = quantized ? -rng.NextInt(3)
                : bias == BiasDraw.Gaussian ? (float)(0.3 * rng.NextGaussian()) : (float)(-rng.NextDouble() * Math.Sqrt(dim));
        }
        if (drawPreBias)
            for (int j = 0; j < dim; j++) p.PreBias[j] = quantized ? rng.NextInt(3) - 1 : (float)(0.1 * rng.NextGaussian());
        var x = new float[rows * dim];
        for (int i = 0; i < x.Length; i++) x[i] = quantized ? rng.NextInt(5) - 2 : (float)(inputScale * rng.NextGaussian());
        return (p, x);
    }

    /// <summary>Rows [n × d] into a padded batch [n × Stride].</summary>
    public static AlignedArray Padded(float[] x, int n, SaeParameters p)
    {
        var a = new AlignedArray((long)n * p.Stride);
        for (int t = 0; t < n; t++) x.AsSpan(t * p.Dim, p.Dim).CopyTo(a.Span.Slice(t * p.Stride));
        return a;
    }

    /// <summary>Z = (X − b_pre)·W_encᵀ [n × M] by the engine's SGEMM, as the fused encoder computes it.</summary>
    public static unsafe float[] DenseZ(SaeParameters p, AlignedArray x, int n)
    {
        int d = p.Dim, stride = p.Stride, m = p.Neurons;
        var xc = new AlignedArray((long)n * stride);
        for (int t = 0; t < n; t++)
            for (int j = 0; j < d; j++) xc.Span[t * stride + j] = x.Span[t * stride + j] - p.PreBias[j];
        var z = new AlignedArray((long)n * m);
        using (var gemm = new SgemmContext(1))
            gemm.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, n, m, d, 1f,
                xc.Pointer, stride, p.Data.Pointer + p.EncoderOffset, stride, 0f, z.Pointer, m);
        // The SGEMM reads xc through a raw pointer: without this the GC may collect the pinned array (its last
        // managed use is .Pointer) mid-product and another thread's allocation reuse the memory, which made
        // FusedEncoderTests fail about once in eight loaded runs.
        GC.KeepAlive(xc);
        return z.Span.ToArray();
    }
}
