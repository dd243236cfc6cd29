// C[MR x NR] := alpha * A~[MR x kc] * B~[kc x NR] + beta * C, on packed panels (see ISgemmMicroKernel).
// AVX2+FMA register tile 6 x 16: each C row is two ymm accumulators (12 ymm), plus two ymm for the
// B row and one broadcast of A: 15 of the 16 ymm (the classic Haswell sgemm tile). Per k step:
// 2 loads of packed B, 6 broadcasts of packed A, 12 FMAs (6 cycles at 2 FMA/cycle, latency 4).
// Packed A panel: kc groups of MR floats; packed B panel: kc rows of NR floats.
// Scalar twin: SgemmKernelScalar_4x8 (same contract, same packing, different tile).
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GbaEngine.Kernels.Gemm;

internal readonly unsafe struct SgemmKernelAvx2_6x16 : ISgemmMicroKernel
{
    public static int MR => 6;
    public static int NR => 16;
    public static KernelSet Set => KernelSet.Avx2;
    public static SgemmBlocking Blocking => SgemmBlocking.Avx2;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0_0 = default; Vector256<float> c0_1 = default;
        Vector256<float> c1_0 = default; Vector256<float> c1_1 = default;
        Vector256<float> c2_0 = default; Vector256<float> c2_1 = default;
        Vector256<float> c3_0 = default; Vector256<float> c3_1 = default;
        Vector256<float> c4_0 = default; Vector256<float> c4_1 = default;
        Vector256<float> c5_0 = default; Vector256<float> c5_1 = default;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b + 0);
            var b1 = Vector256.Load(b + 8);
            var a0 = Vector256.Create(a[0]);
            c0_0 = Fma.MultiplyAdd(a0, b0, c0_0);
            c0_1 = Fma.MultiplyAdd(a0, b1, c0_1);
            var a1 = Vector256.Create(a[1]);
            c1_0 = Fma.MultiplyAdd(a1, b0, c1_0);
            c1_1 = Fma.MultiplyAdd(a1, b1, c1_1);
            var a2 = Vector256.Create(a[2]);
            c2_0 = Fma.MultiplyAdd(a2, b0, c2_0);
            c2_1 = Fma.MultiplyAdd(a2, b1, c2_1);
            var a3 = Vector256.Create(a[3]);
            c3_0 = Fma.MultiplyAdd(a3, b0, c3_0);
            c3_1 = Fma.MultiplyAdd(a3, b1, c3_1);
            var a4 = Vector256.Create(a[4]);
            c4_0 = Fma.MultiplyAdd(a4, b0, c4_0);
            c4_1 = Fma.MultiplyAdd(a4, b1, c4_1);
            var a5 = Vector256.Create(a[5]);
            c5_0 = Fma.MultiplyAdd(a5, b0, c5_0);
            c5_1 = Fma.MultiplyAdd(a5, b1, c5_1);
            a += 6;
            b += 16;
        }
        var va = Vector256.Create(alpha);
        if (beta == 0)
        {
            // Contract: with beta == 0, C is write-only (it may hold NaN or garbage).
            Vector256.Store(c0_0 * va, c + 0 * ldc + 0);
            Vector256.Store(c0_1 * va, c + 0 * ldc + 8);
            Vector256.Store(c1_0 * va, c + 1 * ldc + 0);
            Vector256.Store(c1_1 * va, c + 1 * ldc + 8);
            Vector256.Store(c2_0 * va, c + 2 * ldc + 0);
            Vector256.Store(c2_1 * va, c + 2 * ldc + 8);
            Vector256.Store(c3_0 * va, c + 3 * ldc + 0);
            Vector256.Store(c3_1 * va, c + 3 * ldc + 8);
            Vector256.Store(c4_0 * va, c + 4 * ldc + 0);
            Vector256.Store(c4_1 * va, c + 4 * ldc + 8);
            Vector256.Store(c5_0 * va, c + 5 * ldc + 0);
            Vector256.Store(c5_1 * va, c + 5 * ldc + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 0 * ldc + 0), vb, c0_0 * va), c + 0 * ldc + 0);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 0 * ldc + 8), vb, c0_1 * va), c + 0 * ldc + 8);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 1 * ldc + 0), vb, c1_0 * va), c + 1 * ldc + 0);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 1 * ldc + 8), vb, c1_1 * va), c + 1 * ldc + 8);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 2 * ldc + 0), vb, c2_0 * va), c + 2 * ldc + 0);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 2 * ldc + 8), vb, c2_1 * va), c + 2 * ldc + 8);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 3 * ldc + 0), vb, c3_0 * va), c + 3 * ldc + 0);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 3 * ldc + 8), vb, c3_1 * va), c + 3 * ldc + 8);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 4 * ldc + 0), vb, c4_0 * va), c + 4 * ldc + 0);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 4 * ldc + 8), vb, c4_1 * va), c + 4 * ldc + 8);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 5 * ldc + 0), vb, c5_0 * va), c + 5 * ldc + 0);
            Vector256.Store(Fma.MultiplyAdd(Vector256.Load(c + 5 * ldc + 8), vb, c5_1 * va), c + 5 * ldc + 8);
        }
    }
}
