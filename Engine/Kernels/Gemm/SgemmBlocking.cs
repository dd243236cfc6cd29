// Cache block sizes per micro-kernel, the one table the driver reads (BLIS "blocksizes").
//   KC: depth of a packed B micro-panel (KC x NR) meant to stay in L1 while MC/MR A micro-panels
//       stream past it from L2.
//   MC: rows of the packed A block (MC x k, all of k; at least its current depth block in L2),
//       reused across the NC columns.
//   NC: columns of the packed B panel (k x NC), packed once per jc, read from L3 once per MC rows.
//   NE: columns of the C block handed to the epilogue (MC x NE, still in L2 when it is called).
// MC and NC are multiples of MR and NR; NE is a multiple of NR. Numbers from this machine
// (Xeon, AVX-512, L1d 48 KiB, L2 2 MiB per core): see the comment on each row.
namespace GbaEngine.Kernels.Gemm;

internal readonly record struct SgemmBlocking(int KC, int MC, int NC, int NE)
{
    /// <summary>14x32 kernel, swept single-threaded on thread CPU time, interleaved with OpenBLAS
    /// (medians of 5-11 rounds; ratios are ours/OpenBLAS):
    /// KC 192: the B micro-panel is 192*32*4 = 24 KiB of the 48 KiB L1, next to a 10.5 KiB A micro-panel.
    ///   At 2048 x 8192 x 768, KC 128/192/256/384/768 gave 0.97/0.99/0.93/0.95/0.92;
    ///   at 4096 x 16384 x 768, KC 160/192/224 gave 0.97/0.96/0.95 (equal within noise).
    /// MC 336 (24 micro-panels; each depth block of A, 336 x 192 x 4 = 252 KiB, sits in L2): a larger
    ///   MC re-reads the packed B panel from L3 less often. At 4096 x 16384 x 1536, MC 168/252/336/504
    ///   gave 0.99/1.00/1.08/1.07 (best rounds 154/158/158/156 GFLOP/s); at d = 768 and at
    ///   4096 x 4096 x 512 all four were within 2-3%.
    /// NC 4096: NC 2048 equal, 8192 3% slower (packed B 8192 x 768 x 4 = 24 MiB per thread).
    /// NE 256: NE 128 equal; the C block 336 x 256 x 4 = 336 KiB stays in L2 for the epilogue.</summary>
    public static readonly SgemmBlocking Avx512 = new(KC: 192, MC: 14 * 24, NC: 32 * 128, NE: 32 * 8);

    /// <summary>6x16 kernel. KC 256: B micro-panel 256*16*4 = 16 KiB. Same sweep at 2048 x 8192 x 768:
    /// KC 128/192/256/384 and MC 72/144/288 all within 3% (80-82 GFLOP/s, about 0.93 of the Vector256
    /// FMA peak of ~87), so the tile, not the blocking, bounds it; KC 256 / MC 144 kept.</summary>
    public static readonly SgemmBlocking Avx2 = new(KC: 256, MC: 6 * 24, NC: 16 * 256, NE: 16 * 16);

    /// <summary>Scalar reference: correctness only, small blocks so tests exercise every loop edge.</summary>
    public static readonly SgemmBlocking Scalar = new(KC: 64, MC: 4 * 8, NC: 8 * 16, NE: 8 * 4);
}
