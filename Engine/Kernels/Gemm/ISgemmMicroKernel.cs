// The SGEMM micro-kernel contract (BLIS docs/KernelsHowTo.md, specialised to fp32):
//   C[MR x NR] := alpha * A~[MR x kc] * B~[kc x NR] + beta * C
// where A~ and B~ are packed micro-panels:
//   A~: kc groups of MR floats, group p = column p of the MR rows     (a[p * MR + i] = A[i, p])
//   B~: kc rows of NR floats,   row p   = row p of the NR columns     (b[p * NR + j] = B[p, j])
// C is row-major with leading dimension ldc (in floats) and need not be aligned.
// If beta == 0, C is never read (it may hold NaN); kc == 0 is allowed and gives C := beta * C.
// The kernel always computes the full MR x NR tile: packing zero-pads partial panels, and the driver
// computes every tile into a padded block buffer, so kernels never see ragged edges (MLAS style).
namespace GbaEngine.Kernels.Gemm;

/// <summary>A register-tile micro-kernel plus its block-size table. Implemented by structs so the
/// generic driver is specialised per kernel (no dispatch in the loops).</summary>
internal unsafe interface ISgemmMicroKernel
{
    /// <summary>Rows of the register tile (packed A panel width).</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile (packed B panel width).</summary>
    static abstract int NR { get; }

    /// <summary>The kernel set this kernel belongs to. The driver and packing take every vector path
    /// from it (never from CPU feature flags), so a scalar product runs scalar code only.</summary>
    static abstract KernelSet Set { get; }

    /// <summary>The cache block sizes tuned for this kernel on this machine.</summary>
    static abstract SgemmBlocking Blocking { get; }

    static abstract void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta);
}
