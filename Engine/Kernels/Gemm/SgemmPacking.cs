// Packing: copies op(A) and op(B) into the micro-panel layouts of ISgemmMicroKernel, absorbing the
// transposes so that one kernel layout serves every product, and zero-padding partial panels so
// kernels only ever run full MR x NR tiles (ONNX Runtime MLAS style).
//   Packed A block (mc x k): ceil(mc/MR) panels of k*MR floats; panel r, element (i, p) at
//     r*k*MR + p*MR + i holds op(A)[row0 + r*MR + i, p], zero when the row is past mc.
//   Packed B panel (k x nc): ceil(nc/NR) panels of k*NR floats; panel q, element (p, j) at
//     q*k*NR + p*NR + j holds op(B)[p, col0 + q*NR + j], zero when the column is past nc.
// A pc sub-block of depth kc starts at +pc*MR (resp. +pc*NR) inside a panel and is contiguous.
// op(X) = X or X^T: "k-contiguous" operands (A not transposed, B transposed: the SAE encoder
// X[B x d] * W[M x d]^T) are the transposing copies; the other two are row copies.
using System.Runtime.CompilerServices;

namespace GbaEngine.Kernels.Gemm;

internal static unsafe class SgemmPacking
{
    /// <summary>Packs op(A)[row0 .. row0+mc, 0 .. k) into MR-row panels. a is A as stored:
    /// m x k (lda) when not transposed, k x m (lda) when transposed.</summary>
    public static void PackA(bool transA, float* a, nint lda, int row0, int mc, int k, int mr, float* dst)
    {
        for (int r = 0; r < mc; r += mr)
        {
            var rows = Math.Min(mr, mc - r);
            var panel = dst + (nint)r * k;
            if (!transA)
                PackRowsInterleaved(a + (nint)(row0 + r) * lda, lda, rows, k, mr, panel);
            else
                PackColumnsContiguous(a + row0 + r, lda, rows, k, mr, panel);
        }
    }

    /// <summary>Packs op(B)[0 .. k, col0 .. col0+nc) into NR-column panels. b is B as stored:
    /// k x n (ldb) when not transposed, n x k (ldb) when transposed.</summary>
    public static void PackB(bool transB, float* b, nint ldb, int col0, int nc, int k, int nr, float* dst)
    {
        for (int q = 0; q < nc; q += nr)
        {
            var cols = Math.Min(nr, nc - q);
            var panel = dst + (nint)q * k;
            if (transB)
                PackRowsInterleaved(b + (nint)(col0 + q) * ldb, ldb, cols, k, nr, panel);
            else
                PackColumnsContiguous(b + col0 + q, ldb, cols, k, nr, panel);
        }
    }

    /// <summary>Source lines are k-contiguous (count lines, ld apart); line i becomes lane i of every
    /// width-float group. Lanes count..width are zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackRowsInterleaved(float* src, nint ld, int count, int k, int width, float* dst)
    {
        for (int i = 0; i < count; i++)
        {
            var line = src + i * ld;
            var d = dst + i;
            for (int p = 0; p < k; p++)
                d[(nint)p * width] = line[p];
        }
        for (int i = count; i < width; i++)
        {
            var d = dst + i;
            for (int p = 0; p < k; p++)
                d[(nint)p * width] = 0f;
        }
    }

    /// <summary>Source line p holds the count values of group p contiguously (k lines, ld apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackColumnsContiguous(float* src, nint ld, int count, int k, int width, float* dst)
    {
        for (int p = 0; p < k; p++)
        {
            var d = dst + (nint)p * width;
            new ReadOnlySpan<float>(src + p * ld, count).CopyTo(new Span<float>(d, count));
            if (count < width) new Span<float>(d + count, width - count).Clear();
        }
    }
}
