using GbaEngine.Benchmarks.Gemm;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>The SAE encoder's product Z[B x M] = X[B x d] · W[M x d]ᵀ through <see cref="SgemmContext"/>, C stored.</summary>
internal sealed unsafe class SgemmEntry : RegressionEntry
{
    readonly int _b, _d, _m;
    readonly AlignedArray _x, _w, _z;
    readonly SgemmContext _gemm;

    public SgemmEntry(int b, int d, int m, int threads)
    {
        (_b, _d, _m) = (b, d, m);
        Threads = threads;
        _x = GemmShape.Random((long)b * d, 1);
        _w = GemmShape.Random((long)m * d, 2);
        _z = new AlignedArray((long)b * m);
        _gemm = new SgemmContext(threads);
        Name = $"sgemm/{b}x{d}x{m}";
        Parameters = new Dictionary<string, string>
        {
            ["shape"] = $"B {b} x d {d} x M {m} (GEMM m = B, n = M, k = d, W transposed)",
            ["kernel_tile"] = $"{_gemm.Tile.MR}x{_gemm.Tile.NR}",
        };
    }

    public override string Name { get; }
    public override string WorkUnit => "GFLOP";
    public override double WorkPerOp => 2.0 * _b * _d * _m / 1e9;
    public override int Threads { get; }
    public override IReadOnlyDictionary<string, string> Parameters { get; }

    public override void Run() =>
        _gemm.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, _b, _m, _d, 1f, _x.Pointer, _d, _w.Pointer, _d, 0f, _z.Pointer, _m);

    public override void Dispose() => _gemm.Dispose();
}
