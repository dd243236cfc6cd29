using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;

namespace GbaEngine.Tests.Kernels;

/// <summary>The epilogue hook: blocks tile C exactly once, hold finished values, carry a valid thread
/// index, and the fused (scratch) path hands out exactly the values the stored path writes.</summary>
[Trait("Category", "Kernels")]
public unsafe class GemmEpilogueTests
{
    /// <summary>Copies each block into a full matrix, counts visits per element and sums per thread.</summary>
    struct CopyEpilogue : IGemmEpilogue
    {
        public float* Out;
        public int Ld;
        public int* Visits;
        public double* SumPerThread;
        public int MaxThreads;

        public void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread)
        {
            if ((uint)thread >= (uint)MaxThreads) throw new InvalidOperationException($"thread {thread}");
            double sum = 0;
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                {
                    var v = c[i * ldc + j];
                    Out[(row0 + i) * Ld + col0 + j] = v;
                    Visits[(row0 + i) * Ld + col0 + j]++;
                    sum += v;
                }
            SumPerThread[thread] += sum;
        }
    }

    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void EpilogueSeesEveryFinishedBlockOnce(KernelSet set)
    {
        foreach (var threads in new[] { 1, 2 })
        foreach (var (m, n, k) in new[] { (1, 1, 1), (37, 300, 290), (300, 45, 33), (200, 1100, 20) })
        {
            using var ctx = new SgemmContext(threads, set);
            var ops = new GemmOperands(new GemmCase(m, n, k, false, true, 0.5f, 0f, 0, 0, 0, 0, 5));
            var c = new float[m * n];
            var copy = new float[m * n];
            var visits = new int[m * n];
            var sums = new double[threads];
            fixed (float* pa = ops.A, pb = ops.B, pc = c, po = copy)
            fixed (int* pv = visits)
            fixed (double* ps = sums)
            {
                var epilogue = new CopyEpilogue { Out = po, Ld = n, Visits = pv, SumPerThread = ps, MaxThreads = threads };
                ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, m, n, k, 0.5f, pa, k, pb, k, 0f, pc, n, epilogue);
            }
            Assert.All(visits, v => Assert.Equal(1, v));
            Assert.Equal(c, copy);
            Assert.Equal(c.Select(v => (double)v).Sum(), sums.Sum(), 1e-6 * (1 + c.Sum(Math.Abs)));

            // Fused: no C at all, the same values reach the epilogue through per-thread scratch.
            var fused = new float[m * n];
            Array.Clear(visits);
            fixed (float* pa = ops.A, pb = ops.B, po = fused)
            fixed (int* pv = visits)
            fixed (double* ps = new double[threads])
            {
                var epilogue = new CopyEpilogue { Out = po, Ld = n, Visits = pv, SumPerThread = ps, MaxThreads = threads };
                ctx.MultiplyFused(GemmTranspose.NoTranspose, GemmTranspose.Transpose, m, n, k, 0.5f, pa, k, pb, k, epilogue);
            }
            Assert.All(visits, v => Assert.Equal(1, v));
            Assert.Equal(c, fused);
        }
    }

    [Fact]
    public void EpilogueReadsFinishedValuesWhenBetaAccumulates()
    {
        // beta = 1 with k spanning several depth blocks: the epilogue must see the final sum.
        using var ctx = new SgemmContext(2, KernelSelector.Best);
        var ops = new GemmOperands(new GemmCase(33, 70, 700, true, false, 1f, 1f, 0, 0, 0, 0, 17));
        var c = (float[])ops.C0.Clone();
        var copy = new float[c.Length];
        var visits = new int[c.Length];
        fixed (float* pa = ops.A, pb = ops.B, pc = c, po = copy)
        fixed (int* pv = visits)
        fixed (double* ps = new double[2])
        {
            var epilogue = new CopyEpilogue { Out = po, Ld = 70, Visits = pv, SumPerThread = ps, MaxThreads = 2 };
            ctx.Multiply(GemmTranspose.Transpose, GemmTranspose.NoTranspose, 33, 70, 700, 1f, pa, 33, pb, 70, 1f, pc, 70, epilogue);
        }
        Assert.Equal(c, copy);
        ops.Check(c, "epilogue beta=1");
    }
}
