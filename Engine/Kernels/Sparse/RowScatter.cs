using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Sparse;

/// <summary>
/// The transpose of <see cref="RowGather"/>: one or two vectors added, each with its own coefficient,
/// into selected rows of a matrix (a token's error and input rows into the gradient rows of the
/// neurons it activated). A chunk of the vectors stays in registers while the selected rows stream
/// past it, so each row element costs one load, its FMAs and one store. Exact op for op (per element,
/// rows in the given order, a before b), so it equals <see cref="RowScatterReference"/> bit for bit,
/// repeated rows included. The vector paths are written once over <see cref="ISimdWidth{TVec}"/>.
/// </summary>
internal static unsafe class RowScatter
{
    /// <summary>For each j in order: M[index[j]][0..n) += coef[j]·a[0..n).</summary>
    /// <param name="m">Row 0 of M; row r starts at m + r·stride.</param>
    public static void Add(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coef, float* a, int n, KernelSet set)
    {
        if (coef.Length < index.Length) throw new ArgumentException("RowScatter: fewer coefficients than rows.");
        int i = 0;
        if (set == KernelSet.Avx512) i = Add<Width512, Vector512<float>>(m, stride, index, coef, a, n, i);
        if (set >= KernelSet.Avx2) i = Add<Width256, Vector256<float>>(m, stride, index, coef, a, n, i);
        for (; i < n; i++)
            for (int j = 0; j < index.Length; j++)
            {
                float* r = m + index[j] * stride + i;
                *r = MathF.FusedMultiplyAdd(coef[j], a[i], *r);
            }
    }

    /// <summary>The columns from <paramref name="i"/> on that fill whole vectors of width W; returns where it stopped.</summary>
    static int Add<W, V>(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coef, float* a, int n, int i)
        where W : struct, ISimdWidth<V> where V : struct
    {
        int w = W.Count, rows = index.Length;
        for (; i + 4 * w <= n; i += 4 * w)
        {
            var a0 = W.Load(a + i); var a1 = W.Load(a + i + w);
            var a2 = W.Load(a + i + 2 * w); var a3 = W.Load(a + i + 3 * w);
            for (int j = 0; j < rows; j++)
            {
                var c = W.Broadcast(coef[j]);
                float* r = m + index[j] * stride + i;
                W.Store(W.Fma(c, a0, W.Load(r)), r);
                W.Store(W.Fma(c, a1, W.Load(r + w)), r + w);
                W.Store(W.Fma(c, a2, W.Load(r + 2 * w)), r + 2 * w);
                W.Store(W.Fma(c, a3, W.Load(r + 3 * w)), r + 3 * w);
            }
        }
        for (; i + w <= n; i += w)
        {
            var a0 = W.Load(a + i);
            for (int j = 0; j < rows; j++)
            {
                float* r = m + index[j] * stride + i;
                W.Store(W.Fma(W.Broadcast(coef[j]), a0, W.Load(r)), r);
            }
        }
        return i;
    }

    /// <summary>For each j in order: M[index[j]][0..n) += coefA[j]·a[0..n), then += coefB[j]·b[0..n)
    /// (a tied SAE's weight gradient: the decoder and encoder paths of one token land on the same row).</summary>
    public static void Add2(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coefA, float* a,
        ReadOnlySpan<float> coefB, float* b, int n, KernelSet set)
    {
        if (coefA.Length < index.Length || coefB.Length < index.Length) throw new ArgumentException("RowScatter: fewer coefficients than rows.");
        int i = 0;
        if (set == KernelSet.Avx512) i = Add2<Width512, Vector512<float>>(m, stride, index, coefA, a, coefB, b, n, i);
        if (set >= KernelSet.Avx2) i = Add2<Width256, Vector256<float>>(m, stride, index, coefA, a, coefB, b, n, i);
        for (; i < n; i++)
            for (int j = 0; j < index.Length; j++)
            {
                float* r = m + index[j] * stride + i;
                *r = MathF.FusedMultiplyAdd(coefB[j], b[i], MathF.FusedMultiplyAdd(coefA[j], a[i], *r));
            }
    }

    static int Add2<W, V>(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coefA, float* a,
        ReadOnlySpan<float> coefB, float* b, int n, int i) where W : struct, ISimdWidth<V> where V : struct
    {
        int w = W.Count, rows = index.Length;
        for (; i + 4 * w <= n; i += 4 * w)
        {
            var a0 = W.Load(a + i); var a1 = W.Load(a + i + w);
            var a2 = W.Load(a + i + 2 * w); var a3 = W.Load(a + i + 3 * w);
            var b0 = W.Load(b + i); var b1 = W.Load(b + i + w);
            var b2 = W.Load(b + i + 2 * w); var b3 = W.Load(b + i + 3 * w);
            for (int j = 0; j < rows; j++)
            {
                var ca = W.Broadcast(coefA[j]);
                var cb = W.Broadcast(coefB[j]);
                float* r = m + index[j] * stride + i;
                W.Store(W.Fma(cb, b0, W.Fma(ca, a0, W.Load(r))), r);
                W.Store(W.Fma(cb, b1, W.Fma(ca, a1, W.Load(r + w))), r + w);
                W.Store(W.Fma(cb, b2, W.Fma(ca, a2, W.Load(r + 2 * w))), r + 2 * w);
                W.Store(W.Fma(cb, b3, W.Fma(ca, a3, W.Load(r + 3 * w))), r + 3 * w);
            }
        }
        for (; i + w <= n; i += w)
        {
            var a0 = W.Load(a + i);
            var b0 = W.Load(b + i);
            for (int j = 0; j < rows; j++)
            {
                float* r = m + index[j] * stride + i;
                var s = W.Fma(W.Broadcast(coefA[j]), a0, W.Load(r));
                W.Store(W.Fma(W.Broadcast(coefB[j]), b0, s), r);
            }
        }
        return i;
    }
}

/// <summary>Scalar twin of <see cref="RowScatter"/>: row by row, element by element.</summary>
internal static unsafe class RowScatterReference
{
    public static void Add(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coef, float* a, int n)
    {
        for (int j = 0; j < index.Length; j++)
            for (int i = 0; i < n; i++)
                m[index[j] * stride + i] = MathF.FusedMultiplyAdd(coef[j], a[i], m[index[j] * stride + i]);
    }

    public static void Add2(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coefA, float* a,
        ReadOnlySpan<float> coefB, float* b, int n)
    {
        for (int j = 0; j < index.Length; j++)
            for (int i = 0; i < n; i++)
            {
                float s = MathF.FusedMultiplyAdd(coefA[j], a[i], m[index[j] * stride + i]);
                m[index[j] * stride + i] = MathF.FusedMultiplyAdd(coefB[j], b[i], s);
            }
    }
}
