// The shared SGEMM driver: C[m x n] := alpha * op(A)[m x k] * op(B)[k x n] + beta * C, row-major.
// One thread runs it on its fixed sub-range [m0, m1) x [n0, n1) of C (see SgemmContext for the split).
// Loop nest (BLIS five loops, with pc moved inside ic so each C block finishes inside one ic step,
// plus the epilogue block loop je):
//   jc: NC columns.  Pack op(B)[0..k, jc..jc+NC) once (all of k; read from L3 by every ic step).
//   ic: MC rows.     Pack op(A)[ic..ic+MC, 0..k) once (all of k; reused across the whole jc panel).
//   je: NE columns.  One MC x NE block of C, accumulated in a per-thread block buffer (contiguous,
//                    L2-resident), finished (beta), handed to the epilogue, then stored to C.
//   pc: KC depth.    k split into equal blocks of at most KC; the first overwrites the block.
//   jr: NR columns.  One KC x NR packed B micro-panel, kept in L1 across the ir loop.
//   ir: MR rows.     One micro-kernel call on a KC x MR packed A micro-panel streamed from L2.
// The block buffer is padded to MR/NR multiples, so kernels only run full tiles (no edge path) and
// every C element sees the same operations whatever the partition: S = alpha*AB accumulated over
// the depth blocks in k order, then C = fma(C, beta, S) (or S when beta == 0). Results are therefore
// bitwise identical across thread counts.
// Scratch mode (c == null): there is no C; the epilogue consumes the block buffer.
// Scalar twin: the same driver instantiated with SgemmKernelScalar_4x8. Every vector path (packing
// transposes, beta merge, stores, prefetch) is taken from TKernel.Set, a constant of the instantiation,
// so the scalar instantiation compiles to scalar code only, whatever the CPU.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GbaEngine.Kernels.Gemm;

/// <summary>The operands of one product (pointers are to element (0, 0) as stored).</summary>
internal readonly unsafe struct SgemmProblem
{
    public readonly bool TransA, TransB;
    public readonly int M, N, K;
    public readonly float Alpha, Beta;
    public readonly float* A, B, C;
    public readonly nint Lda, Ldb, Ldc;

    public SgemmProblem(bool transA, bool transB, int m, int n, int k, float alpha, float* a, nint lda,
        float* b, nint ldb, float beta, float* c, nint ldc)
    {
        TransA = transA; TransB = transB; M = m; N = n; K = k; Alpha = alpha; Beta = beta;
        A = a; Lda = lda; B = b; Ldb = ldb; C = c; Ldc = ldc;
    }
}

/// <summary>One thread's buffers (sized by SgemmContext): packed A block, packed B panel, C block.</summary>
internal readonly unsafe struct SgemmBuffers
{
    public readonly float* PackedA, PackedB, Block;

    public SgemmBuffers(float* packedA, float* packedB, float* block)
    {
        PackedA = packedA; PackedB = packedB; Block = block;
    }
}

internal static unsafe class SgemmDriver<TKernel> where TKernel : struct, ISgemmMicroKernel
{
    /// <summary>C larger than this (bytes) is written with non-temporal stores when beta == 0: it will
    /// not be re-read from cache, and streaming skips the read-for-ownership of every line (+2% at
    /// 4096 x 768 x 16384, where C is 256 MiB).</summary>
    const long StreamingThreshold = 32L << 20;

    // Straight to optimised code: a call runs its loops once, so tiering would leave it in Tier0/OSR.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(in SgemmProblem p, int m0, int m1, int n0, int n1,
        in SgemmBuffers buf, ref TEpilogue epilogue, int thread)
        where TEpilogue : struct, IGemmEpilogue
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        var blk = TKernel.Blocking;
        int k = p.K;
        // Equal depth blocks no deeper than KC: k = 256 runs as 2 x 128, not 192 + 64 (a short last
        // block pays the C tile load/store of a full one for a third of the work).
        int depthBlocks = Math.Max(1, (k + blk.KC - 1) / blk.KC);
        int kcStep = Math.Max(1, (k + depthBlocks - 1) / depthBlocks);
        nint ldBlock = blk.NE;
        bool streaming = p.C != null && p.Beta == 0 && (long)p.M * p.N * sizeof(float) > StreamingThreshold;

        // jc loop: column panels of op(B), packed once each.
        for (int jc = n0; jc < n1; jc += blk.NC)
        {
            int nc = Math.Min(blk.NC, n1 - jc);
            SgemmPacking.PackB<TKernel>(p.TransB, p.B, p.Ldb, jc, nc, k, nr, buf.PackedB);

            // ic loop: row blocks of op(A), packed over all of k, reused across the whole panel.
            for (int ic = m0; ic < m1; ic += blk.MC)
            {
                int mc = Math.Min(blk.MC, m1 - ic);
                SgemmPacking.PackA<TKernel>(p.TransA, p.A, p.Lda, ic, mc, k, mr, buf.PackedA);

                // je loop: the C blocks, each finished, handed to the epilogue and stored.
                for (int je = 0; je < nc; je += blk.NE)
                {
                    int ne = Math.Min(blk.NE, nc - je);

                    // pc loop: depth blocks (k == 0 still runs once with kc = 0: S := 0).
                    int pc = 0;
                    do
                    {
                        int kc = Math.Min(kcStep, k - pc);
                        float beta = pc == 0 ? 0f : 1f;

                        // jr loop: one packed B micro-panel (kc x NR) in L1.
                        for (int jr = 0; jr < ne; jr += nr)
                        {
                            float* bPanel = buf.PackedB + (nint)(je + jr) * k + (nint)pc * nr;
                            // The next B micro-panel comes from L3 (the k x NC panel is ~12 MiB);
                            // pulling it into L2 a slice per kernel call hides that latency.
                            float* nextB = bPanel + (nint)k * nr;
                            int bLines = kc * nr / 16, perCall = (bLines * mr + mc - 1) / mc, line = 0;

                            // ir loop: micro-kernel over packed A micro-panels (kc x MR) from L2.
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                if (TKernel.Set != KernelSet.Scalar)
                                    for (int end = Math.Min(line + perCall, bLines); line < end; line++)
                                        Sse.Prefetch1(nextB + line * 16);
                                TKernel.Run(kc, buf.PackedA + (nint)ir * k + (nint)pc * mr, bPanel,
                                    buf.Block + ir * ldBlock + jr, ldBlock, p.Alpha, beta);
                            }
                        }
                        pc += kc;
                    } while (pc < k);

                    float* c = p.C == null ? null : p.C + (nint)ic * p.Ldc + jc + je;
                    if (c != null && p.Beta != 0) MergeBeta(buf.Block, ldBlock, c, p.Ldc, mc, ne, p.Beta);
                    epilogue.Apply(ic, mc, jc + je, ne, buf.Block, ldBlock, thread);
                    if (c != null) Store(buf.Block, ldBlock, c, p.Ldc, mc, ne, streaming);
                }
            }
        }
        if (streaming && TKernel.Set != KernelSet.Scalar) Sse.StoreFence();
    }

    /// <summary>block := fma(C, beta, block) over rows x cols (exact per element at any width).</summary>
    static void MergeBeta(float* block, nint ldBlock, float* c, nint ldc, int rows, int cols, float beta)
    {
        var vb = Vector256.Create(beta);
        for (int i = 0; i < rows; i++)
        {
            float* s = block + i * ldBlock, d = c + i * ldc;
            int j = 0;
            if (TKernel.Set != KernelSet.Scalar)
                for (; j + 8 <= cols; j += 8)
                    Vector256.Store(Fma.MultiplyAdd(Vector256.Load(d + j), vb, Vector256.Load(s + j)), s + j);
            for (; j < cols; j++) s[j] = MathF.FusedMultiplyAdd(d[j], beta, s[j]);
        }
    }

    /// <summary>C := block over rows x cols; streaming (non-temporal) where a row is 64-byte aligned.</summary>
    static void Store(float* block, nint ldBlock, float* c, nint ldc, int rows, int cols, bool streaming)
    {
        for (int i = 0; i < rows; i++)
        {
            float* s = block + i * ldBlock, d = c + i * ldc;
            int j = 0;
            if (streaming && TKernel.Set == KernelSet.Avx512 && ((nint)d & 63) == 0)
                for (; j + 16 <= cols; j += 16)
                    Avx512F.StoreAlignedNonTemporal(d + j, Vector512.Load(s + j));
            else if (TKernel.Set != KernelSet.Scalar)
                for (; j + 8 <= cols; j += 8)
                    Vector256.Store(Vector256.Load(s + j), d + j);
            for (; j < cols; j++) d[j] = s[j];
        }
    }
}
