using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Training;
using GbaEngine.Encoders;
using static GbaEngine.Tests.Training.EncoderProblem;

namespace GbaEngine.Tests.Training;

/// <summary>
/// The fused encoder (SGEMM + gating epilogue + lane merge) against the unfused composition it
/// replaces: the dense Z from the same SGEMM, then the scalar gate twin row by row. Both see the same
/// Z bits, so the code and the statistics must agree exactly, for every thread count (which changes
/// how Z is split into lanes: by neurons, or by tokens when there are too few neurons).
/// </summary>
[Trait("Category", "Kernels")]
public class FusedEncoderTests
{
    public record Case(int Rows, int Dim, int Neurons, bool Tied, int Gate, int K, bool Quantized, ulong Seed);

    static Gen<Case> Cases =>
        from rows in Gen.OneOf(Gen.Choose(1, 40), Gen.Choose(300, 700))
        from dim in Gen.OneOf(Gen.Choose(1, 20), Gen.Choose(60, 200))
        from neurons in Gen.OneOf(Gen.Choose(1, 40), Gen.Choose(200, 900))
        from tied in Gen.Elements(true, false)
        from gate in Gen.Choose(0, 2)
        from k in Gen.Choose(1, 12)
        from quantized in Gen.Elements(true, false)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(rows, dim, neurons, tied, gate, k, quantized, (ulong)seed);

    [Fact]
    public void FusedEncoderEqualsDenseProductThenScalarGate() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var (arch, p, x) = Problem(c);
            var (rowStart, index, values, count, maxY) = Unfused(arch, p, x, c.Rows);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                using var enc = new BatchEncoder(arch, p, c.Rows, threads);
                var code = new SparseCode();
                var stats = new FiringStatistics(arch.Neurons);
                enc.Encode(x, c.Rows, code, stats);
                enc.Encode(x, c.Rows, code, stats);   // a second call must start clean
                Assert.Equal(rowStart, code.RowStart.AsSpan(0, c.Rows + 1).ToArray());
                Assert.Equal(index, code.Index.AsSpan(0, code.Count).ToArray());
                Assert.True(Kernels.KernelTestData.SameBits(values, code.H.AsSpan(0, code.Count)), $"h differs, {threads} threads");
                Assert.Equal(count.Select(v => 2L * v).ToArray(), stats.FireCount);
                Assert.True(Kernels.KernelTestData.SameBits(maxY, stats.MaxY), $"max y differs, {threads} threads");
                Assert.Equal(2L * c.Rows, stats.Tokens);
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(60));

    static (SaeArchitecture, SaeParameters, AlignedArray) Problem(Case c)
    {
        bool topK = c.Gate == 2;
        var arch = new SaeArchitecture(c.Dim, c.Neurons, c.Tied, c.Gate == 1 || topK ? SaeActivation.Relu : SaeActivation.JumpRelu,
            topK ? SparsityMode.TopK : SparsityMode.Threshold, topK ? Math.Min(c.K, c.Neurons) : 0);
        // Quantised values exercise TopK's tie rule across lane boundaries.
        var (p, x) = EncoderProblem.Random(c.Rows, c.Dim, c.Neurons, c.Tied, c.Quantized, c.Seed, BiasDraw.BelowSqrtDim, drawPreBias: true);
        return (arch, p, Padded(x, c.Rows, p));
    }

    static (int[] RowStart, int[] Index, float[] H, int[] Count, float[] MaxY) Unfused(SaeArchitecture arch, SaeParameters p, AlignedArray x, int rows)
    {
        int m = arch.Neurons;
        var z = DenseZ(p, x, rows);

        var count = new int[m];
        var maxY = new float[m];
        Array.Fill(maxY, float.NegativeInfinity);
        var idx = new int[m];
        var h = new float[m];
        var rowStart = new List<int> { 0 };
        var allIdx = new List<int>();
        var allH = new List<float>();
        for (int t = 0; t < rows; t++)
        {
            var zr = z.AsSpan(t * m, m);
            int n = arch.Sparsity == SparsityMode.TopK
                ? GateReference.TopK(zr, p.Bias, arch.K, count, maxY, idx, h)
                : GateReference.Apply(zr, p.Bias, arch.Gate == SaeActivation.JumpRelu, count, maxY, idx, h);
            allIdx.AddRange(idx.AsSpan(0, n).ToArray());
            allH.AddRange(h.AsSpan(0, n).ToArray());
            rowStart.Add(allIdx.Count);
        }
        return (rowStart.ToArray(), allIdx.ToArray(), allH.ToArray(), count, maxY);
    }
}
