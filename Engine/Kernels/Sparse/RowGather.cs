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
/// equals a sequence of Blas1.Axpy calls; Dots reassociates and matches within rounding. The vector
/// paths are written once over <see cref="ISimdWidth{TVec}"/> and run at 512 bits, then 256, then scalar.
/// </summary>
internal static unsafe class RowGather
{
    /// <summary>dst[0..n) := (overwrite ? 0 : dst) + Σ_j coef[j]·A[index[j]][0..n), rows in order.</summary>
    /// <param name="a">Row 0 of A; row r starts at a + r·stride.</param>
    public static void Accumulate(float* dst, int n, float* a, nint stride, ReadOnlySpan<int> index,
        ReadOnlySpan<float> coef, bool overwrite, KernelSet set)
    {
        if (coef.Length < index.Length) throw new ArgumentException("RowGather: fewer coefficients than rows.");
        int i = 0;
        if (set == KernelSet.Avx512) i = Accumulate<Width512, Vector512<float>>(dst, n, a, stride, index, coef, overwrite, i);
        if (set >= KernelSet.Avx2) i = Accumulate<Width256, Vector256<float>>(dst, n, a, stride, index, coef, overwrite, i);
        for (; i < n; i++)
        {
            float s = overwrite ? 0f : dst[i];
            for (int j = 0; j < index.Length; j++) s = MathF.FusedMultiplyAdd(coef[j], a[index[j] * stride + i], s);
            dst[i] = s;
        }
    }

    /// <summary>The columns from <paramref name="i"/> on that fill whole vectors of width W; returns where it stopped.</summary>
    static int Accumulate<W, V>(float* dst, int n, float* a, nint stride, ReadOnlySpan<int> index,
        ReadOnlySpan<float> coef, bool overwrite, int i) where W : struct, ISimdWidth<V> where V : struct
    {
        int w = W.Count, rows = index.Length;
        for (; i + 8 * w <= n; i += 8 * w)
        {
            float* d = dst + i;
            V s0, s1, s2, s3, s4, s5, s6, s7;
            if (overwrite) s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = W.Zero;
            else
            {
                s0 = W.Load(d); s1 = W.Load(d + w); s2 = W.Load(d + 2 * w); s3 = W.Load(d + 3 * w);
                s4 = W.Load(d + 4 * w); s5 = W.Load(d + 5 * w); s6 = W.Load(d + 6 * w); s7 = W.Load(d + 7 * w);
            }
            for (int j = 0; j < rows; j++)
            {
                var c = W.Broadcast(coef[j]);
                float* r = a + index[j] * stride + i;
                s0 = W.Fma(c, W.Load(r), s0);
                s1 = W.Fma(c, W.Load(r + w), s1);
                s2 = W.Fma(c, W.Load(r + 2 * w), s2);
                s3 = W.Fma(c, W.Load(r + 3 * w), s3);
                s4 = W.Fma(c, W.Load(r + 4 * w), s4);
                s5 = W.Fma(c, W.Load(r + 5 * w), s5);
                s6 = W.Fma(c, W.Load(r + 6 * w), s6);
                s7 = W.Fma(c, W.Load(r + 7 * w), s7);
            }
            W.Store(s0, d); W.Store(s1, d + w); W.Store(s2, d + 2 * w); W.Store(s3, d + 3 * w);
            W.Store(s4, d + 4 * w); W.Store(s5, d + 5 * w); W.Store(s6, d + 6 * w); W.Store(s7, d + 7 * w);
        }
        for (; i + w <= n; i += w)
        {
            var s = overwrite ? W.Zero : W.Load(dst + i);
            for (int j = 0; j < rows; j++)
                s = W.Fma(W.Broadcast(coef[j]), W.Load(a + index[j] * stride + i), s);
            W.Store(s, dst + i);
        }
        return i;
    }

    /// <summary>result[j] = v[0..n) · A[index[j]][0..n). Four rows share each load of v. Every row is
    /// summed the same way (two vector accumulators over alternate chunks, then the tail), whether it
    /// falls in a block of four or is left over, so a row's dot does not depend on its neighbours in
    /// the list: callers may split a list anywhere without changing a bit.</summary>
    public static void Dots(float* v, int n, float* a, nint stride, ReadOnlySpan<int> index, Span<float> result, KernelSet set)
    {
        if (result.Length < index.Length) throw new ArgumentException("RowGather: result shorter than the row list.");
        int j = 0;
        if (set == KernelSet.Avx512 && n >= Width512.Count) j = Dots<Width512, Vector512<float>>(v, n, a, stride, index, result);
        if (set >= KernelSet.Avx2 && n >= Width256.Count) j += Dots<Width256, Vector256<float>>(v, n, a, stride, index[j..], result[j..]);
        for (; j < index.Length; j++) result[j] = Dot(v, a + index[j] * stride, n, set);
    }

    /// <summary>The rows in whole blocks of four, at width W; returns how many it did.</summary>
    static int Dots<W, V>(float* v, int n, float* a, nint stride, ReadOnlySpan<int> index, Span<float> result)
        where W : struct, ISimdWidth<V> where V : struct
    {
        int w = W.Count, j = 0;
        for (; j + 4 <= index.Length; j += 4)
        {
            float* r0 = a + index[j] * stride, r1 = a + index[j + 1] * stride, r2 = a + index[j + 2] * stride, r3 = a + index[j + 3] * stride;
            V s0 = W.Zero, s1 = W.Zero, s2 = W.Zero, s3 = W.Zero;
            V u0 = W.Zero, u1 = W.Zero, u2 = W.Zero, u3 = W.Zero;
            int i = 0;
            for (; i + 2 * w <= n; i += 2 * w)
            {
                var x = W.Load(v + i);
                var y = W.Load(v + i + w);
                s0 = W.Fma(x, W.Load(r0 + i), s0);
                s1 = W.Fma(x, W.Load(r1 + i), s1);
                s2 = W.Fma(x, W.Load(r2 + i), s2);
                s3 = W.Fma(x, W.Load(r3 + i), s3);
                u0 = W.Fma(y, W.Load(r0 + i + w), u0);
                u1 = W.Fma(y, W.Load(r1 + i + w), u1);
                u2 = W.Fma(y, W.Load(r2 + i + w), u2);
                u3 = W.Fma(y, W.Load(r3 + i + w), u3);
            }
            if (i + w <= n)
            {
                var x = W.Load(v + i);
                s0 = W.Fma(x, W.Load(r0 + i), s0);
                s1 = W.Fma(x, W.Load(r1 + i), s1);
                s2 = W.Fma(x, W.Load(r2 + i), s2);
                s3 = W.Fma(x, W.Load(r3 + i), s3);
                i += w;
            }
            float t0 = W.Sum(W.Add(s0, u0)), t1 = W.Sum(W.Add(s1, u1)), t2 = W.Sum(W.Add(s2, u2)), t3 = W.Sum(W.Add(s3, u3));
            for (; i < n; i++)
            {
                t0 = MathF.FusedMultiplyAdd(v[i], r0[i], t0); t1 = MathF.FusedMultiplyAdd(v[i], r1[i], t1);
                t2 = MathF.FusedMultiplyAdd(v[i], r2[i], t2); t3 = MathF.FusedMultiplyAdd(v[i], r3[i], t3);
            }
            result[j] = t0; result[j + 1] = t1; result[j + 2] = t2; result[j + 3] = t3;
        }
        return j;
    }

    /// <summary>One row's dot: the leftover rows of <see cref="Dots"/>, summed exactly as its blocks sum each row.</summary>
    static float Dot(float* v, float* r, int n, KernelSet set)
    {
        if (set == KernelSet.Avx512 && n >= Width512.Count) return Dot<Width512, Vector512<float>>(v, r, n);
        if (set >= KernelSet.Avx2 && n >= Width256.Count) return Dot<Width256, Vector256<float>>(v, r, n);
        float t = 0;
        for (int i = 0; i < n; i++) t = MathF.FusedMultiplyAdd(v[i], r[i], t);
        return t;
    }

    static float Dot<W, V>(float* v, float* r, int n) where W : struct, ISimdWidth<V> where V : struct
    {
        int w = W.Count, i = 0;
        V s0 = W.Zero, u0 = W.Zero;
        for (; i + 2 * w <= n; i += 2 * w)
        {
            s0 = W.Fma(W.Load(v + i), W.Load(r + i), s0);
            u0 = W.Fma(W.Load(v + i + w), W.Load(r + i + w), u0);
        }
        if (i + w <= n) { s0 = W.Fma(W.Load(v + i), W.Load(r + i), s0); i += w; }
        float t = W.Sum(W.Add(s0, u0));
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
