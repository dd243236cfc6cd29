// C[MR x NR] := alpha * A~[MR x kc] * B~[kc x NR] + beta * C, on packed panels (see ISgemmMicroKernel).
// AVX-512F register tile 14 x 32: each C row is two zmm accumulators (28 zmm), plus two zmm for the
// B row and one broadcast of A: 31 of the 32 zmm, no spills. Per k step: 2 aligned 64-byte loads of
// packed B, 14 broadcasts of packed A (one vbroadcastss each, reused by both FMAs of the row) and
// 28 FMAs, i.e. 14 cycles at 2 FMA/cycle against a 4-cycle FMA latency: the two FMA ports stay busy.
// Packed A panel: kc groups of MR floats (column k of the 14 rows); packed B panel: kc rows of NR floats.
// Scalar twin: SgemmKernelScalar_4x8 (same contract, same packing, different tile).
// Fully unrolled over the tile on purpose: the JIT keeps the 28 named accumulators in registers.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GbaEngine.Kernels.Gemm;

internal readonly unsafe struct SgemmKernelAvx512_14x32 : ISgemmMicroKernel
{
    public static int MR => 14;
    public static int NR => 32;
    public static KernelSet Set => KernelSet.Avx512;
    public static SgemmBlocking Blocking => SgemmBlocking.Avx512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0_0 = default; Vector512<float> c0_1 = default;
        Vector512<float> c1_0 = default; Vector512<float> c1_1 = default;
        Vector512<float> c2_0 = default; Vector512<float> c2_1 = default;
        Vector512<float> c3_0 = default; Vector512<float> c3_1 = default;
        Vector512<float> c4_0 = default; Vector512<float> c4_1 = default;
        Vector512<float> c5_0 = default; Vector512<float> c5_1 = default;
        Vector512<float> c6_0 = default; Vector512<float> c6_1 = default;
        Vector512<float> c7_0 = default; Vector512<float> c7_1 = default;
        Vector512<float> c8_0 = default; Vector512<float> c8_1 = default;
        Vector512<float> c9_0 = default; Vector512<float> c9_1 = default;
        Vector512<float> c10_0 = default; Vector512<float> c10_1 = default;
        Vector512<float> c11_0 = default; Vector512<float> c11_1 = default;
        Vector512<float> c12_0 = default; Vector512<float> c12_1 = default;
        Vector512<float> c13_0 = default; Vector512<float> c13_1 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b + 0);
            var b1 = Vector512.Load(b + 16);
            var a0 = Vector512.Create(a[0]);
            c0_0 = Avx512F.FusedMultiplyAdd(a0, b0, c0_0);
            c0_1 = Avx512F.FusedMultiplyAdd(a0, b1, c0_1);
            var a1 = Vector512.Create(a[1]);
            c1_0 = Avx512F.FusedMultiplyAdd(a1, b0, c1_0);
            c1_1 = Avx512F.FusedMultiplyAdd(a1, b1, c1_1);
            var a2 = Vector512.Create(a[2]);
            c2_0 = Avx512F.FusedMultiplyAdd(a2, b0, c2_0);
            c2_1 = Avx512F.FusedMultiplyAdd(a2, b1, c2_1);
            var a3 = Vector512.Create(a[3]);
            c3_0 = Avx512F.FusedMultiplyAdd(a3, b0, c3_0);
            c3_1 = Avx512F.FusedMultiplyAdd(a3, b1, c3_1);
            var a4 = Vector512.Create(a[4]);
            c4_0 = Avx512F.FusedMultiplyAdd(a4, b0, c4_0);
            c4_1 = Avx512F.FusedMultiplyAdd(a4, b1, c4_1);
            var a5 = Vector512.Create(a[5]);
            c5_0 = Avx512F.FusedMultiplyAdd(a5, b0, c5_0);
            c5_1 = Avx512F.FusedMultiplyAdd(a5, b1, c5_1);
            var a6 = Vector512.Create(a[6]);
            c6_0 = Avx512F.FusedMultiplyAdd(a6, b0, c6_0);
            c6_1 = Avx512F.FusedMultiplyAdd(a6, b1, c6_1);
            var a7 = Vector512.Create(a[7]);
            c7_0 = Avx512F.FusedMultiplyAdd(a7, b0, c7_0);
            c7_1 = Avx512F.FusedMultiplyAdd(a7, b1, c7_1);
            var a8 = Vector512.Create(a[8]);
            c8_0 = Avx512F.FusedMultiplyAdd(a8, b0, c8_0);
            c8_1 = Avx512F.FusedMultiplyAdd(a8, b1, c8_1);
            var a9 = Vector512.Create(a[9]);
            c9_0 = Avx512F.FusedMultiplyAdd(a9, b0, c9_0);
            c9_1 = Avx512F.FusedMultiplyAdd(a9, b1, c9_1);
            var a10 = Vector512.Create(a[10]);
            c10_0 = Avx512F.FusedMultiplyAdd(a10, b0, c10_0);
            c10_1 = Avx512F.FusedMultiplyAdd(a10, b1, c10_1);
            var a11 = Vector512.Create(a[11]);
            c11_0 = Avx512F.FusedMultiplyAdd(a11, b0, c11_0);
            c11_1 = Avx512F.FusedMultiplyAdd(a11, b1, c11_1);
            var a12 = Vector512.Create(a[12]);
            c12_0 = Avx512F.FusedMultiplyAdd(a12, b0, c12_0);
            c12_1 = Avx512F.FusedMultiplyAdd(a12, b1, c12_1);
            var a13 = Vector512.Create(a[13]);
            c13_0 = Avx512F.FusedMultiplyAdd(a13, b0, c13_0);
            c13_1 = Avx512F.FusedMultiplyAdd(a13, b1, c13_1);
            a += 14;
            b += 32;
        }
        var va = Vector512.Create(alpha);
        if (beta == 0)
        {
            // Contract: with beta == 0, C is write-only (it may hold NaN or garbage).
            Vector512.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector512.Store(c0_1 * va, c + 0 * ldc + 16);
            Vector512.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector512.Store(c1_1 * va, c + 1 * ldc + 16);
            Vector512.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector512.Store(c2_1 * va, c + 2 * ldc + 16);
            Vector512.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector512.Store(c3_1 * va, c + 3 * ldc + 16);
            Vector512.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector512.Store(c4_1 * va, c + 4 * ldc + 16);
            Vector512.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector512.Store(c5_1 * va, c + 5 * ldc + 16);
            Vector512.Store(c6_0 * va, c + 6 * ldc + 0);
            Vector512.Store(c6_1 * va, c + 6 * ldc + 16);
            Vector512.Store(c7_0 * va, c + 7 * ldc + 0);
            Vector512.Store(c7_1 * va, c + 7 * ldc + 16);
            Vector512.Store(c8_0 * va, c + 8 * ldc + 0);
            Vector512.Store(c8_1 * va, c + 8 * ldc + 16);
            Vector512.Store(c9_0 * va, c + 9 * ldc + 0);
            Vector512.Store(c9_1 * va, c + 9 * ldc + 16);
            Vector512.Store(c10_0 * va, c + 10 * ldc + 0);
            Vector512.Store(c10_1 * va, c + 10 * ldc + 16);
            Vector512.Store(c11_0 * va, c + 11 * ldc + 0);
            Vector512.Store(c11_1 * va, c + 11 * ldc + 16);
            Vector512.Store(c12_0 * va, c + 12 * ldc + 0);
            Vector512.Store(c12_1 * va, c + 12 * ldc + 16);
            Vector512.Store(c13_0 * va, c + 13 * ldc + 0);
            Vector512.Store(c13_1 * va, c + 13 * ldc + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 0 * ldc + 0), vb, c0_0 * va), c + 0 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 0 * ldc + 16), vb, c0_1 * va), c + 0 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 1 * ldc + 0), vb, c1_0 * va), c + 1 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 1 * ldc + 16), vb, c1_1 * va), c + 1 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 2 * ldc + 0), vb, c2_0 * va), c + 2 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 2 * ldc + 16), vb, c2_1 * va), c + 2 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 3 * ldc + 0), vb, c3_0 * va), c + 3 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 3 * ldc + 16), vb, c3_1 * va), c + 3 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 4 * ldc + 0), vb, c4_0 * va), c + 4 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 4 * ldc + 16), vb, c4_1 * va), c + 4 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 5 * ldc + 0), vb, c5_0 * va), c + 5 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 5 * ldc + 16), vb, c5_1 * va), c + 5 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 6 * ldc + 0), vb, c6_0 * va), c + 6 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 6 * ldc + 16), vb, c6_1 * va), c + 6 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 7 * ldc + 0), vb, c7_0 * va), c + 7 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 7 * ldc + 16), vb, c7_1 * va), c + 7 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 8 * ldc + 0), vb, c8_0 * va), c + 8 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 8 * ldc + 16), vb, c8_1 * va), c + 8 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 9 * ldc + 0), vb, c9_0 * va), c + 9 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 9 * ldc + 16), vb, c9_1 * va), c + 9 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 10 * ldc + 0), vb, c10_0 * va), c + 10 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 10 * ldc + 16), vb, c10_1 * va), c + 10 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 11 * ldc + 0), vb, c11_0 * va), c + 11 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 11 * ldc + 16), vb, c11_1 * va), c + 11 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 12 * ldc + 0), vb, c12_0 * va), c + 12 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 12 * ldc + 16), vb, c12_1 * va), c + 12 * ldc + 16);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 13 * ldc + 0), vb, c13_0 * va), c + 13 * ldc + 0);
            Vector512.Store(Avx512F.FusedMultiplyAdd(Vector512.Load(c + 13 * ldc + 16), vb, c13_1 * va), c + 13 * ldc + 16);
        }
    }
}
