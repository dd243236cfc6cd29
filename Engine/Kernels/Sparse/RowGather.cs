using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Sparse;

/// <summary>
/// The sparse side of a training step as row kernels over a dense matrix addressed by row index
/// (W rows for the decoder, error and input rows for the gradients): a weighted sum of selected
/// rows, and the dot of one vector with selected rows. Register-blocked: a chunk of the output
/// (8 vectors) stays in registers while every selected row streams past it, so each FMA costs one
/// load instead of axpy's two loads and a store. Accumulate is exact op for op (one FMA per row per
/// element, rows in the given order) and so equals <see cref="RowGatherReference"/> bit for bit, and
/// equals a sequence of Blas1.Axpy calls; Dots reassociates and matches within rounding.
/// </summary>
internal static unsafe class RowGather
{
    /// <summary>dst[0..n) := (overwrite ? 0 : dst) + Σ_j coef[j]·A[index[j]][0..n), rows in order.</summary>
    /// <param name="a">Row 0 of A; row r starts at a + r·stride.</param>
    public static void Accumulate(float* dst, int n, float* a, nint stride, ReadOnlySpan<int> index,
        ReadOnlySpan<float> coef, bool overwrite, KernelSet set)
    {
        if (coef.Length < index.Length) throw new ArgumentException("RowGather: fewer coefficients than rows.");
        int rows = index.Length, i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i + 128 <= n; i += 128)
            {
                float* d = dst + i;
                Vector512<float> s0, s1, s2, s3, s4, s5, s6, s7;
                if (overwrite) s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = Vector512<float>.Zero;
                else
                {
                    s0 = Vector512.Load(d); s1 = Vector512.Load(d + 16); s2 = Vector512.Load(d + 32); s3 = Vector512.Load(d + 48);
                    s4 = Vector512.Load(d + 64); s5 = Vector512.Load(d + 80); s6 = Vector512.Load(d + 96); s7 = Vector512.Load(d + 112);
                }
                for (int j = 0; j < rows; j++)
                {
                    var c = Vector512.Create(coef[j]);
                    float* r = a + index[j] * stride + i;
                    s0 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r), s0);
                    s1 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 16), s1);
                    s2 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 32), s2);
                    s3 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 48), s3);
                    s4 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 64), s4);
                    s5 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 80), s5);
                    s6 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 96), s6);
                    s7 = Vector512.FusedMultiplyAdd(c, Vector512.Load(r + 112), s7);
                }
                s0.Store(d); s1.Store(d + 16); s2.Store(d + 32); s3.Store(d + 48);
                s4.Store(d + 64); s5.Store(d + 80); s6.Store(d + 96); s7.Store(d + 112);
            }
            for (; i + 16 <= n; i += 16)
            {
                var s = overwrite ? Vector512<float>.Zero : Vector512.Load(dst + i);
                for (int j = 0; j < rows; j++)
                    s = Vector512.FusedMultiplyAdd(Vector512.Create(coef[j]), Vector512.Load(a + index[j] * stride + i), s);
                s.Store(dst + i);
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i + 32 <= n; i += 32)
            {
                float* d = dst + i;
                Vector256<float> s0, s1, s2, s3;
                if (overwrite) s0 = s1 = s2 = s3 = Vector256<float>.Zero;
                else { s0 = Vector256.Load(d); s1 = Vector256.Load(d + 8); s2 = Vector256.Load(d + 16); s3 = Vector256.Load(d + 24); }
                for (int j = 0; j < rows; j++)
                {
                    var c = Vector256.Create(coef[j]);
                    float* r = a + index[j] * stride + i;
                    s0 = Vector256.FusedMultiplyAdd(c, Vector256.Load(r), s0);
                    s1 = Vector256.FusedMultiplyAdd(c, Vector256.Load(r + 8), s1);
                    s2 = Vector256.FusedMultiplyAdd(c, Vector256.Load(r + 16), s2);
                    s3 = Vector256.FusedMultiplyAdd(c, Vector256.Load(r + 24), s3);
                }
                s0.Store(d); s1.Store(d + 8); s2.Store(d + 16); s3.Store(d + 24);
            }
            for (; i + 8 <= n; i += 8)
            {
                var s = overwrite ? Vector256<float>.Zero : Vector256.Load(dst + i);
                for (int j = 0; j < rows; j++)
                    s = Vector256.FusedMultiplyAdd(Vector256.Create(coef[j]), Vector256.Load(a + index[j] * stride + i), s);
                s.Store(dst + i);
            }
        }
        for (; i < n; i++)
        {
            float s = overwrite ? 0f : dst[i];
            for (int j = 0; j < rows; j++) s = MathF.FusedMultiplyAdd(coef[j], a[index[j] * stride + i], s);
            dst[i] = s;
        }
    }

    /// <summary>result[j] = v[0..n) · A[index[j]][0..n). Four rows share each load of v. Every row is
    /// summed the same way (two vector accumulators over alternate chunks, then the tail), whether it
    /// falls in a block of four or is left over, so a row's dot does not depend on its neighbours in
    /// the list: callers may split a list anywhere without changing a bit.</summary>
    public static void Dots(float* v, int n, float* a, nint stride, ReadOnlySpan<int> index, Span<float> result, KernelSet set)
    {
        if (result.Length < index.Length) throw new ArgumentException("RowGather: result shorter than the row list.");
        int rows = index.Length, j = 0;
        if (set == KernelSet.Avx512 && n >= 16)
        {
            for (; j + 4 <= rows; j += 4)
            {
                float* r0 = a + index[j] * stride, r1 = a + index[j + 1] * stride, r2 = a + index[j + 2] * stride, r3 = a + index[j + 3] * stride;
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
                Vector512<float> u0 = default, u1 = default, u2 = default, u3 = default;
                int i = 0;
                for (; i + 32 <= n; i += 32)
                {
                    var x = Vector512.Load(v + i);
                    var y = Vector512.Load(v + i + 16);
                    s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r0 + i), s0);
                    s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r1 + i), s1);
                    s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r2 + i), s2);
                    s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r3 + i), s3);
                    u0 = Vector512.FusedMultiplyAdd(y, Vector512.Load(r0 + i + 16), u0);
                    u1 = Vector512.FusedMultiplyAdd(y, Vector512.Load(r1 + i + 16), u1);
                    u2 = Vector512.FusedMultiplyAdd(y, Vector512.Load(r2 + i + 16), u2);
                    u3 = Vector512.FusedMultiplyAdd(y, Vector512.Load(r3 + i + 16), u3);
                }
                if (i + 16 <= n)
                {
                    var x = Vector512.Load(v + i);
                    s0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r0 + i), s0);
                    s1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r1 + i), s1);
                    s2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r2 + i), s2);
                    s3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(r3 + i), s3);
                    i += 16;
                }
                float t0 = Vector512.Sum(s0 + u0), t1 = Vector512.Sum(s1 + u1), t2 = Vector512.Sum(s2 + u2), t3 = Vector512.Sum(s3 + u3);
                for (; i < n; i++)
                {
                    t0 = MathF.FusedMultiplyAdd(v[i], r0[i], t0); t1 = MathF.FusedMultiplyAdd(v[i], r1[i], t1);
                    t2 = MathF.FusedMultiplyAdd(v[i], r2[i], t2); t3 = MathF.FusedMultiplyAdd(v[i], r3[i], t3);
                }
                result[j] = t0; result[j + 1] = t1; result[j + 2] = t2; result[j + 3] = t3;
            }
        }
        if (set >= KernelSet.Avx2 && n >= 8)
        {
            for (; j + 4 <= rows; j += 4)
            {
                float* r0 = a + index[j] * stride, r1 = a + index[j + 1] * stride, r2 = a + index[j + 2] * stride, r3 = a + index[j + 3] * stride;
                Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
                Vector256<float> u0 = default, u1 = default, u2 = default, u3 = default;
                int i = 0;
                for (; i + 16 <= n; i += 16)
                {
                    var x = Vector256.Load(v + i);
                    var y = Vector256.Load(v + i + 8);
                    s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r0 + i), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r1 + i), s1);
                    s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r2 + i), s2);
                    s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r3 + i), s3);
                    u0 = Vector256.FusedMultiplyAdd(y, Vector256.Load(r0 + i + 8), u0);
                    u1 = Vector256.FusedMultiplyAdd(y, Vector256.Load(r1 + i + 8), u1);
                    u2 = Vector256.FusedMultiplyAdd(y, Vector256.Load(r2 + i + 8), u2);
                    u3 = Vector256.FusedMultiplyAdd(y, Vector256.Load(r3 + i + 8), u3);
                }
                if (i + 8 <= n)
                {
                    var x = Vector256.Load(v + i);
                    s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r0 + i), s0);
                    s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r1 + i), s1);
                    s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r2 + i), s2);
                    s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(r3 + i), s3);
                    i += 8;
                }
                float t0 = Vector256.Sum(s0 + u0), t1 = Vector256.Sum(s1 + u1), t2 = Vector256.Sum(s2 + u2), t3 = Vector256.Sum(s3 + u3);
                for (; i < n; i++)
                {
                    t0 = MathF.FusedMultiplyAdd(v[i], r0[i], t0); t1 = MathF.FusedMultiplyAdd(v[i], r1[i], t1);
                    t2 = MathF.FusedMultiplyAdd(v[i], r2[i], t2); t3 = MathF.FusedMultiplyAdd(v[i], r3[i], t3);
                }
                result[j] = t0; result[j + 1] = t1; result[j + 2] = t2; result[j + 3] = t3;
            }
        }
        for (; j < rows; j++) result[j] = Dot(v, a + index[j] * stride, n, set);
    }

    /// <summary>One row's dot: the leftover rows of <see cref="Dots"/>, summed exactly as its blocks sum each row.</summary>
    static float Dot(float* v, float* r, int n, KernelSet set)
    {
        int i = 0;
        float t = 0;
        if (set == KernelSet.Avx512 && n >= 16)
        {
            Vector512<float> s0 = default, u0 = default;
            for (; i + 32 <= n; i += 32)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(v + i), Vector512.Load(r + i), s0);
                u0 = Vector512.FusedMultiplyAdd(Vector512.Load(v + i + 16), Vector512.Load(r + i + 16), u0);
            }
            if (i + 16 <= n) { s0 = Vector512.FusedMultiplyAdd(Vector512.Load(v + i), Vector512.Load(r + i), s0); i += 16; }
            t = Vector512.Sum(s0 + u0);
        }
        else if (set >= KernelSet.Avx2 && n >= 8)
        {
            Vector256<float> s0 = default, u0 = default;
            for (; i + 16 <= n; i += 16)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(v + i), Vector256.Load(r + i), s0);
                u0 = Vector256.FusedMultiplyAdd(Vector256.Load(v + i + 8), Vector256.Load(r + i + 8), u0);
            }
            if (i + 8 <= n) { s0 = Vector256.FusedMultiplyAdd(Vector256.Load(v + i), Vector256.Load(r + i), s0); i += 8; }
            t = Vector256.Sum(s0 + u0);
        }
        for (; i < n; i++) t = MathF.FusedMultiplyAdd(v[i], r[i], t);
        return t;
    }
}

/// <summary>Scalar twin of <see cref="RowGather"/>.</summary>
internal static unsafe class RowGatherReference
{
    public static void Accumulate(float* dst, int n, float* a, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coef, bool overwrite)
    {
        for (int i = 0; i < n; i++)
        {
            float s = overwrite ? 0f : dst[i];
            for (int j = 0; j < index.Length; j++) s = MathF.FusedMultiplyAdd(coef[j], a[index[j] * stride + i], s);
            dst[i] = s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* v, float* row, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++) s = MathF.FusedMultiplyAdd(v[i], row[i], s);
        return s;
    }

    public static void Dots(float* v, int n, float* a, nint stride, ReadOnlySpan<int> index, Span<float> result)
    {
        for (int j = 0; j < index.Length; j++) result[j] = Dot(v, a + index[j] * stride, n);
    }
}
