using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Sparse;
using GbaEngine.Memory;
using static GbaEngine.Tests.Kernels.KernelTestData;

namespace GbaEngine.Tests.Kernels;

/// <summary>
/// The sparse row kernels against their scalar twins for every kernel set, over random row lengths
/// (around the 8-vector register block and the vector widths), row counts (0 included), repeated
/// rows, unaligned strides and special values: Accumulate and RowScatter bit for bit, Dots within a
/// length-scaled tolerance and independent of how a row list is split.
/// </summary>
[Trait("Category", "Kernels")]
public class RowGatherTests
{
    public record Case(int Length, int Rows, int Matrix, int StridePad, bool Overwrite, bool Special, int Seed);

    static Gen<Case> Cases =>
        from length in Length
        from rows in Gen.OneOf(Gen.Choose(0, 5), Gen.Choose(0, 40))
        from matrix in Gen.Choose(1, 30)
        from pad in Gen.Choose(0, 17)
        from overwrite in Gen.Elements(true, false)
        from special in Gen.Elements(true, false, false)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(length, rows, matrix, pad, overwrite, special, seed);

    static unsafe void Check(Func<Case, KernelSet, bool> property) =>
        Prop.ForAll(Cases.ToArbitrary(), c => Sets.All(set => property(c, set)))
            .Check(Config.QuickThrowOnFailure.WithMaxTest(300));

    /// <summary>A matrix with `Matrix` rows of `Length` floats at stride Length + pad (unaligned rows),
    /// random row picks (with repeats), coefficients, and a destination.</summary>
    static (AlignedArray A, int Stride, int[] Index, float[] C1, float[] C2, float[] Dst) Data(Case c)
    {
        int stride = Math.Max(1, c.Length + c.StridePad);
        var a = new AlignedArray((long)c.Matrix * stride);
        Values(c.Matrix * stride, c.Seed, c.Special).CopyTo(a.Span);
        var rng = new Random(c.Seed);
        var index = Enumerable.Range(0, c.Rows).Select(_ => rng.Next(c.Matrix)).ToArray();
        return (a, stride, index, Values(c.Rows, c.Seed + 2, false), Values(c.Rows, c.Seed + 3, false), Values(c.Length, c.Seed + 4, c.Special));
    }

    [Fact]
    public unsafe void AccumulateIsBitExact() =>
        Check((c, set) =>
        {
            var (a, stride, index, coef, _, dst) = Data(c);
            var fast = (float[])dst.Clone();
            var slow = (float[])dst.Clone();
            fixed (float* pf = fast, ps = slow)
            {
                RowGather.Accumulate(pf, c.Length, a.Pointer, stride, index, coef, c.Overwrite, set);
                RowGatherReference.Accumulate(ps, c.Length, a.Pointer, stride, index, coef, c.Overwrite);
            }
            GC.KeepAlive(a);   // the kernels read a through a raw pointer: keep the pinned array alive until they return
            return SameBits(fast, slow);
        });

    [Fact]
    public unsafe void DotsMatchWithinRounding() =>
        Check((c, set) =>
        {
            var (a, stride, index, _, _, v) = Data(c with { Special = false });
            var fast = new float[c.Rows];
            var slow = new double[c.Rows];
            fixed (float* pv = v)
                RowGather.Dots(pv, c.Length, a.Pointer, stride, index, fast, set);
            for (int j = 0; j < c.Rows; j++)
            {
                double s = 0, abs = 0;
                for (int i = 0; i < c.Length; i++)
                {
                    double term = (double)v[i] * a.Span[index[j] * stride + i];
                    s += term;
                    abs += Math.Abs(term);
                }
                slow[j] = s;
                if (Math.Abs(fast[j] - s) > 1e-6 * c.Length * abs + 1e-30) return false;
            }
            return true;
        });

    [Fact]
    public unsafe void ScatterAddIsBitExact() =>
        Check((c, set) =>
        {
            var (a, stride, index, coef, _, v) = Data(c);
            var fast = a.Span.ToArray();
            var slow = a.Span.ToArray();
            fixed (float* pf = fast, ps = slow, pv = v)
            {
                RowScatter.Add(pf, stride, index, coef, pv, c.Length, set);
                RowScatterReference.Add(ps, stride, index, coef, pv, c.Length);
            }
            return SameBits(fast, slow);
        });

    [Fact]
    public unsafe void ScatterAdd2IsBitExact() =>
        Check((c, set) =>
        {
            var (a, stride, index, c1, c2, v) = Data(c);
            var w = Values(c.Length, c.Seed + 5, c.Special);
            var fast = a.Span.ToArray();
            var slow = a.Span.ToArray();
            fixed (float* pf = fast, ps = slow, pv = v, pw = w)
            {
                RowScatter.Add2(pf, stride, index, c1, pv, c2, pw, c.Length, set);
                RowScatterReference.Add2(ps, stride, index, c1, pv, c2, pw, c.Length);
            }
            return SameBits(fast, slow);
        });

    /// <summary>The sparse backward splits a token's row list at neuron-block edges that move with the
    /// thread count; its results stay bitwise the same only if a row's dot ignores its neighbours.</summary>
    [Fact]
    public unsafe void DotsDoNotDependOnHowTheListIsSplit() =>
        Check((c, set) =>
        {
            var (a, stride, index, _, _, v) = Data(c);
            var whole = new float[c.Rows];
            var part = new float[c.Rows];
            fixed (float* pv = v)
            {
                RowGather.Dots(pv, c.Length, a.Pointer, stride, index, whole, set);
                int cut = c.Rows == 0 ? 0 : c.Seed % (c.Rows + 1);
                RowGather.Dots(pv, c.Length, a.Pointer, stride, index.AsSpan(0, cut), part, set);
                RowGather.Dots(pv, c.Length, a.Pointer, stride, index.AsSpan(cut), part.AsSpan(cut), set);
            }
            GC.KeepAlive(a);   // the kernels read a through a raw pointer: keep the pinned array alive until they return
            return SameBits(whole, part);
        });
}
