using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Sparse;

/// <summary>
/// The transpose of <see cref="RowGather"/>: one or two vectors added, each with its own coefficient,
/// into selected rows of a matrix (a token's error and input rows into the gradient rows of the
/// neurons it activated). A chunk of the vectors stays in registers while the selected rows stream
/// past it, so each row element costs one load, its FMAs and one store. Exact op for op (per element,
/// rows in the given order, a before b), so it equals <see cref="RowScatterReference"/> bit for bit,
/// repeated rows included.
/// </summary>
internal static unsafe class RowScatter
{
    /// <summary>For each j in order: M[index[j]][0..n) += coef[j]·a[0..n).</summary>
    /// <param name="m">Row 0 of M; row r starts at m + r·stride.</param>
    public static void Add(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coef, float* a, int n, KernelSet set)
    {
        if (coef.Length < index.Length) throw new ArgumentException("RowScatter: fewer coefficients than rows.");
        int rows = index.Length, i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i + 64 <= n; i += 64)
            {
                var a0 = Vector512.Load(a + i); var a1 = Vector512.Load(a + i + 16);
                var a2 = Vector512.Load(a + i + 32); var a3 = Vector512.Load(a + i + 48);
                for (int j = 0; j < rows; j++)
                {
                    var c = Vector512.Create(coef[j]);
                    float* r = m + index[j] * stride + i;
                    Vector512.FusedMultiplyAdd(c, a0, Vector512.Load(r)).Store(r);
                    Vector512.FusedMultiplyAdd(c, a1, Vector512.Load(r + 16)).Store(r + 16);
                    Vector512.FusedMultiplyAdd(c, a2, Vector512.Load(r + 32)).Store(r + 32);
                    Vector512.FusedMultiplyAdd(c, a3, Vector512.Load(r + 48)).Store(r + 48);
                }
            }
            for (; i + 16 <= n; i += 16)
            {
                var a0 = Vector512.Load(a + i);
                for (int j = 0; j < rows; j++)
                {
                    float* r = m + index[j] * stride + i;
                    Vector512.FusedMultiplyAdd(Vector512.Create(coef[j]), a0, Vector512.Load(r)).Store(r);
                }
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i + 8 <= n; i += 8)
            {
                var a0 = Vector256.Load(a + i);
                for (int j = 0; j < rows; j++)
                {
                    float* r = m + index[j] * stride + i;
                    Vector256.FusedMultiplyAdd(Vector256.Create(coef[j]), a0, Vector256.Load(r)).Store(r);
                }
            }
        }
        for (; i < n; i++)
            for (int j = 0; j < rows; j++)
            {
                float* r = m + index[j] * stride + i;
                *r = MathF.FusedMultiplyAdd(coef[j], a[i], *r);
            }
    }

    /// <summary>For each j in order: M[index[j]][0..n) += coefA[j]·a[0..n), then += coefB[j]·b[0..n)
    /// (a tied SAE's weight gradient: the decoder and encoder paths of one token land on the same row).</summary>
    public static void Add2(float* m, nint stride, ReadOnlySpan<int> index, ReadOnlySpan<float> coefA, float* a,
        ReadOnlySpan<float> coefB, float* b, int n, KernelSet set)
    {
        if (coefA.Length < index.Length || coefB.Length < index.Length) throw new ArgumentException("RowScatter: fewer coefficients than rows.");
        int rows = index.Length, i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i + 64 <= n; i += 64)
            {
                var a0 = Vector512.Load(a + i); var a1 = Vector512.Load(a + i + 16);
                var a2 = Vector512.Load(a + i + 32); var a3 = Vector512.Load(a + i + 48);
                var b0 = Vector512.Load(b + i); var b1 = Vector512.Load(b + i + 16);
                var b2 = Vector512.Load(b + i + 32); var b3 = Vector512.Load(b + i + 48);
                for (int j = 0; j < rows; j++)
                {
                    var ca = Vector512.Create(coefA[j]);
                    var cb = Vector512.Create(coefB[j]);
                    float* r = m + index[j] * stride + i;
                    Vector512.FusedMultiplyAdd(cb, b0, Vector512.FusedMultiplyAdd(ca, a0, Vector512.Load(r))).Store(r);
                    Vector512.FusedMultiplyAdd(cb, b1, Vector512.FusedMultiplyAdd(ca, a1, Vector512.Load(r + 16))).Store(r + 16);
                    Vector512.FusedMultiplyAdd(cb, b2, Vector512.FusedMultiplyAdd(ca, a2, Vector512.Load(r + 32))).Store(r + 32);
                    Vector512.FusedMultiplyAdd(cb, b3, Vector512.FusedMultiplyAdd(ca, a3, Vector512.Load(r + 48))).Store(r + 48);
                }
            }
            for (; i + 16 <= n; i += 16)
            {
                var a0 = Vector512.Load(a + i);
                var b0 = Vector512.Load(b + i);
                for (int j = 0; j < rows; j++)
                {
                    float* r = m + index[j] * stride + i;
                    var s = Vector512.FusedMultiplyAdd(Vector512.Create(coefA[j]), a0, Vector512.Load(r));
                    Vector512.FusedMultiplyAdd(Vector512.Create(coefB[j]), b0, s).Store(r);
                }
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i + 8 <= n; i += 8)
            {
                var a0 = Vector256.Load(a + i);
                var b0 = Vector256.Load(b + i);
                for (int j = 0; j < rows; j++)
                {
                    float* r = m + index[j] * stride + i;
                    var s = Vector256.FusedMultiplyAdd(Vector256.Create(coefA[j]), a0, Vector256.Load(r));
                    Vector256.FusedMultiplyAdd(Vector256.Create(coefB[j]), b0, s).Store(r);
                }
            }
        }
        for (; i < n; i++)
            for (int j = 0; j < rows; j++)
            {
                float* r = m + index[j] * stride + i;
                *r = MathF.FusedMultiplyAdd(coefB[j], b[i], MathF.FusedMultiplyAdd(coefA[j], a[i], *r));
            }
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
