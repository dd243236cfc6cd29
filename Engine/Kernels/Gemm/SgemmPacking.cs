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
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GbaEngine.Kernels.Gemm;

internal static unsafe class SgemmPacking
{
    // Generic over the micro-kernel only for its Set: the vector transposes exist in the AVX2 and AVX-512
    // instantiations, not in the scalar one.

    /// <summary>Packs op(A)[row0 .. row0+mc, 0 .. k) into MR-row panels. a is A as stored:
    /// m x k (lda) when not transposed, k x m (lda) when transposed.</summary>
    public static void PackA<TKernel>(bool transA, float* a, nint lda, int row0, int mc, int k, int mr, float* dst) where TKernel : struct, ISgemmMicroKernel
    {
        for (int r = 0; r < mc; r += mr)
        {
            var rows = Math.Min(mr, mc - r);
            var panel = dst + (nint)r * k;
            if (!transA)
                PackRowsInterleaved<TKernel>(a + (nint)(row0 + r) * lda, lda, rows, k, mr, panel);
            else
                PackColumnsContiguous(a + row0 + r, lda, rows, k, mr, panel);
        }
    }

    /// <summary>Packs op(B)[0 .. k, col0 .. col0+nc) into NR-column panels. b is B as stored:
    /// k x n (ldb) when not transposed, n x k (ldb) when transposed.</summary>
    public static void PackB<TKernel>(bool transB, float* b, nint ldb, int col0, int nc, int k, int nr, float* dst) where TKernel : struct, ISgemmMicroKernel
    {
        for (int q = 0; q < nc; q += nr)
        {
            var cols = Math.Min(nr, nc - q);
            var panel = dst + (nint)q * k;
            if (transB)
                PackRowsInterleaved<TKernel>(b + (nint)(col0 + q) * ldb, ldb, cols, k, nr, panel);
            else
                PackColumnsContiguous(b + col0 + q, ldb, cols, k, nr, panel);
        }
    }

    /// <summary>Source lines are k-contiguous (count lines, ld apart); line i becomes lane i of every
    /// width-float group. Lanes count..width are zero. Writes go in address order: with strided
    /// writes instead (line by line) the packed panel (96 KiB at k = 768, NR = 32) thrashed L1 and
    /// packing took 8% of a 2048 x 8192 x 768 product; the 8 x 8 transposes below take about 1%.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackRowsInterleaved<TKernel>(float* src, nint ld, int count, int k, int width, float* dst) where TKernel : struct, ISgemmMicroKernel
    {
        int p = 0;
        if (TKernel.Set != KernelSet.Scalar)
        {
            for (; p + 8 <= k; p += 8)
                for (int i0 = 0; i0 < width; i0 += 8)
                    Transpose8x8(src + i0 * ld + p, ld, count - i0, dst + (nint)p * width + i0, width, Math.Min(8, width - i0));
        }
        for (; p < k; p++)
        {
            var d = dst + (nint)p * width;
            for (int i = 0; i < count; i++) d[i] = src[i * ld + p];
            for (int i = count; i < width; i++) d[i] = 0f;
        }
    }

    /// <summary>dst[q * ldd + j] = src[j * lds + q] for q in 0..8 and j in 0..lanes, with source lines
    /// j >= rows read as zero (panel padding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(float* src, nint lds, int rows, float* dst, nint ldd, int lanes)
    {
        var r0 = rows > 0 ? Avx.LoadVector256(src) : default;
        var r1 = rows > 1 ? Avx.LoadVector256(src + lds) : default;
        var r2 = rows > 2 ? Avx.LoadVector256(src + 2 * lds) : default;
        var r3 = rows > 3 ? Avx.LoadVector256(src + 3 * lds) : default;
        var r4 = rows > 4 ? Avx.LoadVector256(src + 4 * lds) : default;
        var r5 = rows > 5 ? Avx.LoadVector256(src + 5 * lds) : default;
        var r6 = rows > 6 ? Avx.LoadVector256(src + 6 * lds) : default;
        var r7 = rows > 7 ? Avx.LoadVector256(src + 7 * lds) : default;
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        if (lanes == 8)
        {
            Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
        }
        else
        {
            // A panel width that is not a multiple of 8 (MR = 14, 6): masked stores keep the
            // neighbouring group intact.
            var mask = Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(lanes)).AsSingle();
            Avx.MaskStore(dst, mask, Avx.Permute2x128(u0, u4, 0x20));
            Avx.MaskStore(dst + ldd, mask, Avx.Permute2x128(u1, u5, 0x20));
            Avx.MaskStore(dst + 2 * ldd, mask, Avx.Permute2x128(u2, u6, 0x20));
            Avx.MaskStore(dst + 3 * ldd, mask, Avx.Permute2x128(u3, u7, 0x20));
            Avx.MaskStore(dst + 4 * ldd, mask, Avx.Permute2x128(u0, u4, 0x31));
            Avx.MaskStore(dst + 5 * ldd, mask, Avx.Permute2x128(u1, u5, 0x31));
            Avx.MaskStore(dst + 6 * ldd, mask, Avx.Permute2x128(u2, u6, 0x31));
            Avx.MaskStore(dst + 7 * ldd, mask, Avx.Permute2x128(u3, u7, 0x31));
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
