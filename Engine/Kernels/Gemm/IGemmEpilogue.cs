// The epilogue hook: called by the SGEMM driver once per finished C block, while it is in cache.
// Contract:
//   - Apply(row0, rows, col0, cols, c, ldc, thread) sees C[row0 .. row0+rows, col0 .. col0+cols)
//     fully computed (all of k, alpha and beta applied). c points at element (row0, col0) of a
//     per-thread block buffer (contiguous, L2-resident, reused for the next block); rows are ldc
//     floats apart. Blocks are at most MC x NE (see SgemmBlocking) and tile C exactly once.
//   - With a destination C (SgemmContext.Multiply) the block is stored to C after Apply returns,
//     so whatever the epilogue writes into it (bias, activation) is what C receives.
//   - In scratch mode (SgemmContext.MultiplyFused) there is no C matrix: the epilogue must consume
//     the block (statistics, sparse emission) before returning.
//   - thread in [0, Threads) names the worker; each thread owns a fixed part of C, so the same
//     blocks reach the same thread index on every call. Each worker calls its own copy of the
//     struct: keep shared state behind pointers or arrays indexed by thread.
//   - On one thread, calls come in loop order: NC column panel, then MC row block, then NE columns.
namespace GbaEngine.Kernels.Gemm;

/// <summary>A callback applied to each finished block of C (bias, gate, statistics, sparse emission).
/// Implement on a struct: the driver is generic over it, so the call is direct and inlinable.</summary>
internal unsafe interface IGemmEpilogue
{
    void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread);
}

/// <summary>The plain path: the product is stored in C and nothing else happens.</summary>
internal readonly unsafe struct StoreEpilogue : IGemmEpilogue
{
    public void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread) { }
}
