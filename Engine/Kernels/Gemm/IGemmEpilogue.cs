// The epilogue hook: called by the SGEMM driver once per finished C block, while it is in cache.
// Contract:
//   - Apply(row0, rows, col0, cols, c, ldc, thread) sees C[row0 .. row0+rows, col0 .. col0+cols)
//     fully computed (all of k, alpha and beta applied); c points at element (row0, col0) and rows
//     are ldc floats apart. Blocks are at most MC x NE (see SgemmBlocking) and tile C exactly once.
//   - With a destination C the block is that part of C: the epilogue may read and overwrite it.
//   - In scratch mode (SgemmContext.MultiplyFused) there is no C matrix: c points into a
//     per-thread scratch tile that is reused for the next block, so the epilogue must consume it.
//   - thread in [0, Threads) names the worker; each thread owns a fixed set of blocks (a fixed
//     partition of C), so the same blocks reach the same thread index on every call. Each worker calls
//     its own copy of the struct: keep shared state behind pointers/arrays indexed by thread.
//   - Calls on one thread come in increasing row0 for a given col0 panel, columns within a row
//     block in increasing col0.
namespace GbaEngine.Kernels.Gemm;

/// <summary>A callback applied to each finished block of C (bias, gate, statistics, sparse emission).
/// Implement on a struct: the driver is generic over it, so the call is direct and inlinable.</summary>
public unsafe interface IGemmEpilogue
{
    void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread);
}

/// <summary>The plain path: the product is stored in C and nothing else happens.</summary>
public readonly unsafe struct StoreEpilogue : IGemmEpilogue
{
    public void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread) { }
}
