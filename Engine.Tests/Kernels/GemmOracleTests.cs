using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using MathNet.Numerics.LinearAlgebra;

namespace GbaEngine.Tests.Kernels;

/// <summary>Small shapes against MathNet.Numerics, a large SAE-shaped residual check, k = 0,
/// thread-count determinism and argument validation.</summary>
[Trait("Category", "Kernels")]
public class GemmOracleTests
{
    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void MatchesMathNetOnSmallShapes(KernelSet set)
    {
        using var ctx = new SgemmContext(1, set);
        var rng = new Random(7);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 5, 7), (14, 32, 9), (19, 37, 41), (50, 3, 70) })
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
        {
            var a = Matrix<float>.Build.Dense(m, k, (_, _) => (float)(rng.NextDouble() - 0.5));
            var b = Matrix<float>.Build.Dense(k, n, (_, _) => (float)(rng.NextDouble() - 0.5));
            var expected = a * b;
            // Row-major storage of op^-1: a transposed operand is stored as the transpose.
            var aStored = ta ? a.Transpose() : a;
            var bStored = tb ? b.Transpose() : b;
            var c = new float[m * n];
            ctx.Multiply(ta ? GemmTranspose.Transpose : GemmTranspose.NoTranspose,
                tb ? GemmTranspose.Transpose : GemmTranspose.NoTranspose, m, n, k, 1f,
                RowMajor(aStored), aStored.ColumnCount, RowMajor(bStored), bStored.ColumnCount, 0f, c, n);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    Assert.True(Math.Abs(c[i * n + j] - expected[i, j]) <= 1e-5f * k, $"{set} {m}x{n}x{k} ta={ta} tb={tb} [{i},{j}]");
        }
    }

    static float[] RowMajor(Matrix<float> x) => x.ToRowMajorArray();

    /// <summary>The SAE encoder product Z = X W^T at 512 x 4096 x 768: C t vs A (B t) in double.</summary>
    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void EncoderShapeResidual(KernelSet set)
    {
        const int batch = 512, d = 768, neurons = 4096;
        var rng = new Random(11);
        var x = new float[batch * d];
        var w = new float[neurons * d];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
        var z = new float[batch * neurons];
        using var ctx = new SgemmContext(2, set);
        ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, batch, neurons, d, 1f, x, d, w, d, 0f, z, neurons);

        var t = new double[neurons];
        for (int j = 0; j < neurons; j++) t[j] = rng.NextDouble() * 2 - 1;
        // wt = W^T t and |W|^T |t| (d), then A wt and the bound |A| (|W|^T |t|).
        var wt = new double[d];
        var wtAbs = new double[d];
        for (int j = 0; j < neurons; j++)
            for (int p = 0; p < d; p++)
            {
                wt[p] += w[j * d + p] * t[j];
                wtAbs[p] += Math.Abs(w[j * d + p] * t[j]);
            }
        const double u = 1.0 / (1 << 24);
        for (int i = 0; i < batch; i++)
        {
            double ct = 0, exact = 0, bound = 0;
            for (int j = 0; j < neurons; j++) ct += z[i * neurons + j] * t[j];
            for (int p = 0; p < d; p++)
            {
                exact += x[i * d + p] * wt[p];
                bound += Math.Abs(x[i * d + p]) * wtAbs[p];
            }
            Assert.True(Math.Abs(ct - exact) <= 2 * (d + 2) * u * bound, $"{set} row {i}: {ct} vs {exact} (bound {bound})");
        }
    }

    /// <summary>One shape per kernel set that runs every loop of the driver more than once and ends each
    /// on a partial block: m = MC + 3, n = NC + NE + 7, k = KC + 5 (two depth blocks).</summary>
    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void EveryLoopLevelWithPartialBlocks(KernelSet set)
    {
        var blk = set switch
        {
            KernelSet.Avx512 => SgemmBlocking.Avx512,
            KernelSet.Avx2 => SgemmBlocking.Avx2,
            _ => SgemmBlocking.Scalar,
        };
        using var ctx = new SgemmContext(1, set);
        foreach (var beta in new[] { 0f, 0.5f })
        {
            var ops = new GemmOperands(new GemmCase(blk.MC + 3, blk.NC + blk.NE + 7, blk.KC + 5, false, true, 1f, beta, 1, 0, 3, 1, 21));
            ops.Check(ops.Run(ctx), $"{set} all loops");
        }
    }

    /// <summary>A C above the streaming threshold (32 MiB, beta = 0) takes the non-temporal store path
    /// on 64-byte-aligned rows: it must equal the same product computed in small row slices.</summary>
    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public unsafe void LargeOutputStreamsTheSameValues(KernelSet set)
    {
        const int m = 1024, n = 8208, k = 8; // C = 33.6 MB, rows 64-byte aligned (n = 16 x 513)
        var a = new AlignedArray(m * k);
        var b = new AlignedArray(n * k);
        var rng = new Random(3);
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        var whole = new AlignedArray((long)m * n);
        var sliced = new AlignedArray((long)m * n);
        whole.Span.Fill(float.NaN);
        using var ctx = new SgemmContext(2, set);
        ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, m, n, k, 1f, a.Pointer, k, b.Pointer, k, 0f, whole.Pointer, n);
        for (int r = 0; r < m; r += 128)
            ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, 128, n, k, 1f, a.Pointer + r * k, k, b.Pointer, k, 0f, sliced.Pointer + (long)r * n, n);
        Assert.True(whole.Span.SequenceEqual(sliced.Span), $"{set}: streamed C differs from the sliced product");
        for (int j = 0; j < n; j += 97)
        {
            double expected = 0;
            for (int p = 0; p < k; p++) expected += (double)a[(m - 1) * k + p] * b[j * k + p];
            Assert.True(Math.Abs(whole[(m - 1) * n + j] - expected) <= 1e-5, $"{set}: C[{m - 1},{j}]");
        }
    }

    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void ThreadCountDoesNotChangeABit(KernelSet set)
    {
        using var one = new SgemmContext(1, set);
        using var two = new SgemmContext(2, set);
        using var three = new SgemmContext(3, set);
        // Wide (split along n), narrow (split along m), and every transpose combination.
        foreach (var (m, n, k) in new[] { (301, 777, 513), (203, 20, 300), (5, 1000, 70) })
        foreach (var ta in new[] { false, true })
        foreach (var tb in new[] { false, true })
        {
            var ops = new GemmOperands(new GemmCase(m, n, k, ta, tb, 1.5f, 0.25f, 3, 0, 1, 2, 99));
            var c1 = ops.Run(one);
            Assert.Equal(c1, ops.Run(two));
            Assert.Equal(c1, ops.Run(three));
        }
    }

    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void ZeroDepthScalesC(KernelSet set)
    {
        using var ctx = new SgemmContext(2, set);
        var c = Enumerable.Range(0, 6 * 40).Select(i => (float)i).ToArray();
        ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.NoTranspose, 6, 40, 0, 1f, [], 1, [], 40, 0.5f, c, 40);
        for (int i = 0; i < c.Length; i++) Assert.Equal(0.5f * i, c[i]);
        Array.Fill(c, float.NaN);
        ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.NoTranspose, 6, 40, 0, 1f, [], 1, [], 40, 0f, c, 40);
        Assert.All(c, v => Assert.Equal(0f, v));
    }

    [Fact]
    public void RejectsBadArguments()
    {
        using var ctx = new SgemmContext(1, KernelSet.Scalar);
        var a = new float[12];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.NoTranspose, 3, 4, 4, 1f, a, 3, a, 4, 0f, a, 4));
        Assert.Throws<ArgumentException>(() =>
            ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.NoTranspose, 3, 4, 4, 1f, a, 4, a, 4, 0f, new float[11], 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SgemmContext(0));
    }
}
