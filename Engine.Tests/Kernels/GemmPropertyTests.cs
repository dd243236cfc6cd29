using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;

namespace GbaEngine.Tests.Kernels;

/// <summary>Random shapes (1, primes, around MR/NR/KC multiples), every transpose combination,
/// alpha/beta including beta = 0 over NaN-filled C, padded leading dimensions and misaligned starts;
/// every supported kernel set at 1 and 2 threads against the double-precision oracle.</summary>
[Trait("Category", "Kernels")]
public class GemmPropertyTests
{
    static readonly int[] SpecialSizes = [1, 2, 3, 5, 7, 13, 14, 15, 16, 17, 29, 31, 32, 33, 45, 63, 64, 65, 97, 131];
    static readonly int[] SpecialDepths = [0, 1, 2, 7, 31, 63, 64, 65, 97, 255, 256, 257, 300];

    static Gen<int> Size(int[] special, int max) =>
        Gen.Frequency((2, Gen.Elements(special)), (1, Gen.Choose(1, max)));

    static readonly Gen<GemmCase> Cases =
        from m in Size(SpecialSizes, 160)
        from n in Size(SpecialSizes, 160)
        from k in Size(SpecialDepths, 300)
        from ta in Gen.Elements(false, true)
        from tb in Gen.Elements(false, true)
        from alpha in Gen.Elements(1f, -0.5f, 2.25f)
        from beta in Gen.Elements(0f, 1f, 0.75f)
        from pads in Gen.Three(Gen.Choose(0, 5))
        from offset in Gen.Choose(0, 3)
        from seed in Gen.Choose(0, int.MaxValue)
        select new GemmCase(m, n, k, ta, tb, alpha, beta, pads.Item1, pads.Item2, pads.Item3, offset, (ulong)seed);

    [Fact]
    public void EveryKernelSetMatchesTheOracle()
    {
        var contexts = KernelSelector.Supported
            .SelectMany(s => new[] { new SgemmContext(1, s), new SgemmContext(2, s) }).ToArray();
        try
        {
            var property = Prop.ForAll(Cases.ToArbitrary(), c =>
            {
                var ops = new GemmOperands(c);
                foreach (var ctx in contexts)
                    ops.Check(ops.Run(ctx), $"{ctx.Kernels} x{ctx.Threads}");
            });
            Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), property);
        }
        finally
        {
            foreach (var ctx in contexts) ctx.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(GemmKernelSets.All), MemberType = typeof(GemmKernelSets))]
    public void SimdKernelsAgreeWithTheScalarKernelAcrossEdges(KernelSet set)
    {
        using var reference = new SgemmContext(1, KernelSet.Scalar);
        using var ctx = new SgemmContext(2, set);
        var (mr, nr) = ctx.Tile;
        foreach (var m in new[] { 1, mr - 1, mr, mr + 1, 2 * mr + 3 })
        foreach (var n in new[] { 1, nr - 1, nr, nr + 1, 3 * nr - 5 })
        foreach (var k in new[] { 1, 17, 257 })
        {
            var c = new GemmCase(m, n, k, false, true, 1f, 0.5f, 1, 2, 3, 1, (ulong)(m * 1000 + n * 10 + k));
            var ops = new GemmOperands(c);
            var expected = ops.Run(reference);
            var actual = ops.Run(ctx);
            const double u = 1.0 / (1 << 24);
            for (int x = 0; x < expected.Length; x++)
                Assert.True(Math.Abs(expected[x] - actual[x]) <= 4 * (k + 2) * u * (k + 1), $"{set} {c} at {x}: {expected[x]} vs {actual[x]}");
        }
    }
}
