using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using static GbaEngine.Tests.Kernels.KernelTestData;
using GbaEngine.Model;

namespace GbaEngine.Tests.Kernels;

/// <summary>Every element-wise SIMD kernel against its scalar twin, for every kernel set.</summary>
[Trait("Category", "Kernels")]
public class ElementwiseKernelTests
{
    [Fact]
    public void DotMatchesTwinWithinLengthScaledTolerance()
    {
        foreach (var set in Sets)
            Check((n, off, seed) =>
            {
                var x = Values(n + off, seed, false); var y = Values(n + off, seed + 1, false);
                float fast = Blas1.Dot(x.AsSpan(off), y.AsSpan(off), set);
                float exact = Blas1Reference.Dot(x.AsSpan(off), y.AsSpan(off));
                double scale = 0;
                for (int i = off; i < n + off; i++) scale += Math.Abs((double)x[i] * y[i]);
                return Math.Abs(fast - exact) <= 4 * (n + 1) * 6e-8 * (scale + 1e-30);
            });
    }

    [Fact]
    public void AxpyAndScaleAreBitExact()
    {
        foreach (var set in Sets)
            Check((n, off, seed) =>
            {
                var x = Values(n + off, seed, true); var y = Values(n + off, seed + 1, true);
                var y2 = (float[])y.Clone();
                float alpha = Values(1, seed + 2, false)[0];
                Blas1.Axpy(alpha, x.AsSpan(off), y.AsSpan(off), set);
                Blas1Reference.Axpy(alpha, x.AsSpan(off), y2.AsSpan(off));
                var s1 = (float[])x.Clone(); var s2 = (float[])x.Clone();
                Blas1.Scale(alpha, s1.AsSpan(off), set);
                Blas1Reference.Scale(alpha, s2.AsSpan(off));
                return SameBits(y, y2) && SameBits(s1, s2);
            });
    }

    [Fact]
    public void AdamWIsBitExact()
    {
        foreach (var set in Sets)
            Check((n, off, seed) =>
            {
                var p1 = Values(n + off, seed, true); var g = Values(n + off, seed + 1, true);
                var m1 = Values(n + off, seed + 2, false); var v1 = Values(n + off, seed + 3, false).Select(Math.Abs).ToArray();
                var (p2, m2, v2) = ((float[])p1.Clone(), (float[])m1.Clone(), (float[])v1.Clone());
                var step = new AdamWStep(1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1 + seed % 1000);
                AdamW.Update(p1.AsSpan(off), g.AsSpan(off), m1.AsSpan(off), v1.AsSpan(off), step, set);
                AdamWReference.Update(p2.AsSpan(off), g.AsSpan(off), m2.AsSpan(off), v2.AsSpan(off), step);
                return SameBits(p1, p2) && SameBits(m1, m2) && SameBits(v1, v2);
            });
    }

    [Fact]
    public void GateIsBitExactForBothGates()
    {
        foreach (var set in Sets)
            foreach (var kind in new[] { SaeActivation.JumpRelu, SaeActivation.Relu })
                Check((n, off, seed) =>
                {
                    var z = Values(n + off, seed, true).AsSpan(off); var b = Values(n + off, seed + 1, true).AsSpan(off);
                    var (c1, c2) = (new int[n], new int[n]);
                    var (mx1, mx2) = (Values(n, seed + 2, false), Values(n, seed + 2, false));
                    var (i1, i2) = (new int[n], new int[n]);
                    var (h1, h2) = (new float[n], new float[n]);
                    int k1 = Gate.Apply(z, b, kind == SaeActivation.JumpRelu, c1, mx1, i1, h1, set);
                    int k2 = GateReference.Apply(z, b, kind == SaeActivation.JumpRelu, c2, mx2, i2, h2);
                    return k1 == k2 && c1.SequenceEqual(c2) && SameBits(mx1, mx2) && i1.SequenceEqual(i2) && SameBits(h1, h2);
                });
    }

    [Fact]
    public void TopKIsExactAndSelectsTheLargestPositive()
    {
        foreach (var set in Sets)
            foreach (int k in new[] { 1, 3, 20 })
                Check((n, off, seed) =>
                {
                    var z = Values(n + off, seed, false).AsSpan(off); var b = Values(n + off, seed + 1, false).AsSpan(off);
                    var (c1, c2) = (new int[n], new int[n]);
                    var (mx1, mx2) = (new float[n], new float[n]);
                    var (i1, i2) = (new int[Math.Max(n, k)], new int[Math.Max(n, k)]);
                    var (h1, h2) = (new float[Math.Max(n, k)], new float[Math.Max(n, k)]);
                    int r1 = Gate.TopK(z, b, k, c1, mx1, i1, h1, new int[k], new float[k], set);
                    int r2 = GateReference.TopK(z, b, k, c2, mx2, i2, h2);
                    var y = new float[n];
                    for (int i = 0; i < n; i++) y[i] = z[i] + b[i];
                    var expected = Enumerable.Range(0, n).Where(i => y[i] > 0).OrderByDescending(i => y[i]).ThenBy(i => i).Take(k).OrderBy(i => i).ToArray();
                    return r1 == r2 && i1.AsSpan(0, r1).SequenceEqual(i2.AsSpan(0, r2)) && SameBits(h1, h2) && c1.SequenceEqual(c2)
                        && i1.AsSpan(0, r1).SequenceEqual(expected);
                });
    }
}
