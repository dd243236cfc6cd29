// Cache block sizes per micro-kernel, the one table the driver reads (BLIS "blocksizes").
//   KC: depth of a packed B micro-panel (KC x NR) meant to stay in L1 while MC/MR A micro-panels
//       stream past it from L2.
//   MC: rows of the packed A block (MC x k, all of k) kept in L2 and reused across the NC columns.
//   NC: columns of the packed B panel (k x NC), packed once per jc, read from L3 once per MC rows.
//   NE: columns of the C block handed to the epilogue (MC x NE, still in L2 when it is called).
// MC and NC are multiples of MR and NR; NE is a multiple of NR. Numbers from this machine
// (Xeon, AVX-512, L1d 48 KiB, L2 2 MiB per core): see the comment on each row.
namespace GbaEngine.Kernels.Gemm;

internal readonly record struct SgemmBlocking(int KC, int MC, int NC, int NE)
{
    /// <summary>14x32 kernel. KC 256: the B micro-panel is 256*32*4 = 32 KiB of the 48 KiB L1.</summary>
    public static readonly SgemmBlocking Avx512 = new(KC: 256, MC: 14 * 12, NC: 32 * 128, NE: 32 * 8);

    /// <summary>6x16 kernel. KC 256: B micro-panel 16 KiB.</summary>
    public static readonly SgemmBlocking Avx2 = new(KC: 256, MC: 6 * 24, NC: 16 * 256, NE: 16 * 16);

    /// <summary>Scalar reference: correctness only, small blocks so tests exercise every loop edge.</summary>
    public static readonly SgemmBlocking Scalar = new(KC: 64, MC: 4 * 8, NC: 8 * 16, NE: 8 * 4);
}
