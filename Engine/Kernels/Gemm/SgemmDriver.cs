// The shared SGEMM driver: C[m x n] := alpha * op(A)[m x k] * op(B)[k x n] + beta * C, row-major.
// One thread runs it on its fixed sub-range [m0, m1) x [n0, n1) of C (see SgemmContext for the split).
// Loop nest (BLIS five loops, with pc moved inside ic so each C block finishes inside one ic step,
// plus the epilogue block loop je):
//   jc: NC columns.  Pack op(B)[0..k, jc..jc+NC) once (all of k; read from L3 by every ic step).
//   ic: MC rows.     Pack op(A)[ic..ic+MC, 0..k) once (all of k; stays in L2 for the whole jc panel).
//   je: NE columns.  The MC x NE block of C that is finished, then given to the epilogue, hot in L2.
//   pc: KC depth.    k split into equal blocks of at most KC; beta applies on the first only.
//   jr: NR columns.  One KC x NR packed B micro-panel, kept in L1 across the ir loop.
//   ir: MR rows.     One micro-kernel call on a KC x MR packed A micro-panel streamed from L2.
// Partial edge tiles go through a private MR x NR tile (kernel with beta = 0, then merged with the
// same fused rounding as a full tile), so every C element sees the same operations whatever the
// partition: results are bitwise identical across thread counts.
// Scratch mode (c == null): C exists only as the per-thread MC x NE block; the kernel writes full
// tiles there (the block is padded to MR/NR multiples) and the epilogue consumes it.
// Scalar twin: the same driver instantiated with SgemmKernelScalar_4x8.
using System.Runtime.CompilerServices;
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

/// <summary>One thread's packing buffers (sized by SgemmContext.EnsureCapacity).</summary>
internal readonly unsafe struct SgemmBuffers
{
    public readonly float* PackedA, PackedB, Scratch, Edge;

    public SgemmBuffers(float* packedA, float* packedB, float* scratch, float* edge)
    {
        PackedA = packedA; PackedB = packedB; Scratch = scratch; Edge = edge;
    }
}

internal static unsafe class SgemmDriver<TKernel> where TKernel : struct, ISgemmMicroKernel
{
    // Straight to optimised code: a call runs its loops once, so tiering would leave it in Tier0/OSR.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TEpilogue>(in SgemmProblem p, int m0, int m1, int n0, int n1,
        in SgemmBuffers buf, ref TEpilogue epilogue, int thread)
        where TEpilogue : struct, IGemmEpilogue
    {
        int mr = TKernel.MR, nr = TKernel.NR;
        var blk = TKernel.Blocking;
        int k = p.K;
        bool scratch = p.C == null;
        // Equal depth blocks no deeper than KC: k = 256 runs as 2 x 128, not 192 + 64 (a short last
        // block pays the C tile load/store of a full one for a third of the work).
        int depthBlocks = Math.Max(1, (k + blk.KC - 1) / blk.KC);
        int kcStep = Math.Max(1, (k + depthBlocks - 1) / depthBlocks);
        nint ldS = blk.NE;

        // jc loop: column panels of op(B), packed once each.
        for (int jc = n0; jc < n1; jc += blk.NC)
        {
            int nc = Math.Min(blk.NC, n1 - jc);
            SgemmPacking.PackB(p.TransB, p.B, p.Ldb, jc, nc, k, nr, buf.PackedB);

            // ic loop: row blocks of op(A), packed over all of k, reused across the whole panel.
            for (int ic = m0; ic < m1; ic += blk.MC)
            {
                int mc = Math.Min(blk.MC, m1 - ic);
                SgemmPacking.PackA(p.TransA, p.A, p.Lda, ic, mc, k, mr, buf.PackedA);

                // je loop: the C blocks handed to the epilogue once finished.
                for (int je = 0; je < nc; je += blk.NE)
                {
                    int ne = Math.Min(blk.NE, nc - je);
                    float* cBlock = scratch ? buf.Scratch : p.C + (nint)ic * p.Ldc + jc + je;
                    nint ldc = scratch ? ldS : p.Ldc;

                    // pc loop: depth blocks; beta only on the first (k == 0 still runs once: C := beta*C).
                    int pc = 0;
                    do
                    {
                        int kc = Math.Min(kcStep, k - pc);
                        float beta = pc == 0 ? p.Beta : 1f;

                        // jr loop: one packed B micro-panel (kc x NR) in L1.
                        for (int jr = 0; jr < ne; jr += nr)
                        {
                            float* bPanel = buf.PackedB + (nint)(je + jr) * k + (nint)pc * nr;
                            int cols = Math.Min(nr, ne - jr);
                            // The next B micro-panel comes from L3 (the k x NC panel is ~12 MiB);
                            // pulling it into L2 a slice per kernel call hides that latency.
                            float* nextB = bPanel + (nint)k * nr;
                            int bLines = kc * nr / 16, perCall = (bLines * mr + mc - 1) / mc, line = 0;

                            // ir loop: micro-kernel over packed A micro-panels (kc x MR) from L2.
                            for (int ir = 0; ir < mc; ir += mr)
                            {
                                if (Sse.IsSupported)
                                    for (int end = Math.Min(line + perCall, bLines); line < end; line++)
                                        Sse.Prefetch1(nextB + line * 16);
                                float* aPanel = buf.PackedA + (nint)ir * k + (nint)pc * mr;
                                float* cTile = cBlock + ir * ldc + jr;
                                int rows = Math.Min(mr, mc - ir);
                                if (scratch || (rows == mr && cols == nr))
                                    TKernel.Run(kc, aPanel, bPanel, cTile, ldc, p.Alpha, beta);
                                else
                                    EdgeTile(kc, aPanel, bPanel, cTile, ldc, p.Alpha, beta, rows, cols, buf.Edge);
                            }
                        }
                        pc += kc;
                    } while (pc < k);

                    epilogue.Apply(ic, mc, jc + je, ne, cBlock, ldc, thread);
                }
            }
        }
    }

    /// <summary>A partial tile: the kernel writes alpha*AB into a private tile, then the valid part is
    /// merged as fma(C, beta, t), the same rounding the kernels use for a full tile.</summary>
    static void EdgeTile(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta,
        int rows, int cols, float* tile)
    {
        int nr = TKernel.NR;
        TKernel.Run(kc, a, b, tile, nr, alpha, 0f);
        for (int i = 0; i < rows; i++)
        {
            var dst = c + i * ldc;
            var src = tile + i * nr;
            if (beta == 0)
                for (int j = 0; j < cols; j++) dst[j] = src[j];
            else
                for (int j = 0; j < cols; j++) dst[j] = MathF.FusedMultiplyAdd(dst[j], beta, src[j]);
        }
    }
}
