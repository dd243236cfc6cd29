using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GbaEngine.Kernels;

namespace GbaEngine.Training;

/// <summary>
/// Z[t, m] = Σ_j Xc[t, j] · WT[j, m] for a block of up to four tokens: the encoder's dense product
/// in "axpy" form over a transposed encoder WT [d × MPad] so that no horizontal sums are needed.
/// Register tile: 4 tokens × 2 vectors of neurons. The scalar twin is <see cref="ComputeReference"/>.
/// Rows of z have stride MPad (M rounded up to 16); padded neurons have zero weights.
/// </summary>
internal static class EncoderProduct
{
    public static unsafe void Compute(float* xc, int xStride, int tokens, int d, float* wt, int mPad, float* z, KernelSet set)
    {
        if (set == KernelSet.Scalar) { ComputeReference(xc, xStride, tokens, d, wt, mPad, z); return; }
        // Tokens are processed four at a time; a short last block repeats row 0 into unused slots
        // and discards their results (cheaper than a second kernel for the edge).
        float* x0 = xc, x1 = tokens > 1 ? xc + xStride : xc, x2 = tokens > 2 ? xc + 2 * xStride : xc, x3 = tokens > 3 ? xc + 3 * xStride : xc;
        if (set == KernelSet.Avx512)
        {
            for (int m = 0; m < mPad; m += 32)
            {
                bool two = m + 16 < mPad;
                Vector512<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
                float* w = wt + m;
                for (int j = 0; j < d; j++, w += mPad)
                {
                    var w0 = Vector512.Load(w);
                    var w1 = two ? Vector512.Load(w + 16) : default;
                    var b0 = Vector512.Create(x0[j]); var b1 = Vector512.Create(x1[j]);
                    var b2 = Vector512.Create(x2[j]); var b3 = Vector512.Create(x3[j]);
                    a00 = Vector512.FusedMultiplyAdd(b0, w0, a00); a01 = Vector512.FusedMultiplyAdd(b0, w1, a01);
                    a10 = Vector512.FusedMultiplyAdd(b1, w0, a10); a11 = Vector512.FusedMultiplyAdd(b1, w1, a11);
                    a20 = Vector512.FusedMultiplyAdd(b2, w0, a20); a21 = Vector512.FusedMultiplyAdd(b2, w1, a21);
                    a30 = Vector512.FusedMultiplyAdd(b3, w0, a30); a31 = Vector512.FusedMultiplyAdd(b3, w1, a31);
                }
                Store512(z, mPad, m, 0, tokens, a00, a01, two);
                Store512(z, mPad, m, 1, tokens, a10, a11, two);
                Store512(z, mPad, m, 2, tokens, a20, a21, two);
                Store512(z, mPad, m, 3, tokens, a30, a31, two);
            }
            return;
        }
        for (int m = 0; m < mPad; m += 16)
        {
            bool two = m + 8 < mPad;
            Vector256<float> a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
            float* w = wt + m;
            for (int j = 0; j < d; j++, w += mPad)
            {
                var w0 = Vector256.Load(w);
                var w1 = two ? Vector256.Load(w + 8) : default;
                var b0 = Vector256.Create(x0[j]); var b1 = Vector256.Create(x1[j]);
                var b2 = Vector256.Create(x2[j]); var b3 = Vector256.Create(x3[j]);
                a00 = Vector256.FusedMultiplyAdd(b0, w0, a00); a01 = Vector256.FusedMultiplyAdd(b0, w1, a01);
                a10 = Vector256.FusedMultiplyAdd(b1, w0, a10); a11 = Vector256.FusedMultiplyAdd(b1, w1, a11);
                a20 = Vector256.FusedMultiplyAdd(b2, w0, a20); a21 = Vector256.FusedMultiplyAdd(b2, w1, a21);
                a30 = Vector256.FusedMultiplyAdd(b3, w0, a30); a31 = Vector256.FusedMultiplyAdd(b3, w1, a31);
            }
            Store256(z, mPad, m, 0, tokens, a00, a01, two);
            Store256(z, mPad, m, 1, tokens, a10, a11, two);
            Store256(z, mPad, m, 2, tokens, a20, a21, two);
            Store256(z, mPad, m, 3, tokens, a30, a31, two);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Store512(float* z, int mPad, int m, int t, int tokens, Vector512<float> lo, Vector512<float> hi, bool two)
    {
        if (t >= tokens) return;
        lo.Store(z + t * mPad + m);
        if (two) hi.Store(z + t * mPad + m + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static unsafe void Store256(float* z, int mPad, int m, int t, int tokens, Vector256<float> lo, Vector256<float> hi, bool two)
    {
        if (t >= tokens) return;
        lo.Store(z + t * mPad + m);
        if (two) hi.Store(z + t * mPad + m + 8);
    }

    /// <summary>Scalar twin: the same sums in the same order (j ascending, fused multiply-add).</summary>
    public static unsafe void ComputeReference(float* xc, int xStride, int tokens, int d, float* wt, int mPad, float* z)
    {
        for (int t = 0; t < tokens; t++)
            for (int m = 0; m < mPad; m++)
            {
                float s = 0;
                for (int j = 0; j < d; j++) s = MathF.FusedMultiplyAdd(xc[t * xStride + j], wt[j * mPad + m], s);
                z[t * mPad + m] = s;
            }
    }
}
