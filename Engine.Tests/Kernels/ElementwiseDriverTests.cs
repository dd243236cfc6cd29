using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using static GbaEngine.Tests.Kernels.KernelTestData;

namespace GbaEngine.Tests.Kernels;

/// <summary>
/// The shared element-wise drivers themselves, per kernel set: every map, update and selection equals
/// its operator's float overload applied element by element (bit for bit, special values and
/// denormals included), never writes past the input's length, and works in place; the sum driver keeps
/// Dot's pinned summation order.
/// </summary>
[Trait("Category", "Kernels")]
public class ElementwiseDriverTests
{
    /// <summary>
    /// n + off floats (read from off) where about one in six is special: NaN, ±inf, ±0, the smallest
    /// and largest denormals, or a product of two that underflows to a denormal.
    /// </summary>
    static float[] SpecialValues(int n, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = (float)(rng.NextDouble() * 4 - 2);
            if (rng.Next(6) == 0)
                v[i] = rng.Next(8) switch
                {
                    0 => float.NaN,
                    1 => float.PositiveInfinity,
                    2 => float.NegativeInfinity,
                    3 => -0f,
                    4 => 0f,
                    5 => float.Epsilon * (rng.Next(2) * 2 - 1),
                    6 => BitConverter.Int32BitsToSingle(0x007FFFFF),
                    _ => 1e-20f * (float)rng.NextDouble(),
                };
        }
        return v;
    }

    static void CheckSets(Func<KernelSet, int, int, int, bool> property)
    {
        foreach (var set in Sets) Check((n, off, seed) => property(set, n, off, seed), 300);
    }

    const float Guard = 12345.5f;

    /// <summary>A destination of n + off + 8 floats preset to a sentinel, so writes past n show up.</summary>
    static float[] GuardedDestination(int n, int off) => Enumerable.Repeat(Guard, n + off + 8).ToArray();

    static bool GuardsIntact(float[] d, int n, int off) =>
        d.Take(off).All(v => v == Guard) && d.Skip(off + n).All(v => v == Guard);

    [Fact]
    public void UnaryMapEqualsTheScalarOverloadIntoAFreshDestinationAndInPlace()
    {
        CheckSets((set, n, off, seed) =>
        {
            var x = SpecialValues(n + off, seed);
            float alpha = SpecialValues(1, seed + 1)[0];
            var expected = x.Skip(off).Select(v => ScaleOperator.Invoke(alpha, v)).ToArray();
            var d = GuardedDestination(n, off);
            ElementwiseDriver.Map<ScaleOperator, float>(alpha, x.AsSpan(off, n), d.AsSpan(off), set);
            var inPlace = (float[])x.Clone();
            ElementwiseDriver.Map<ScaleOperator, float>(alpha, inPlace.AsSpan(off), inPlace.AsSpan(off), set);
            return SameBits(d.AsSpan(off, n), expected) && GuardsIntact(d, n, off)
                && SameBits(inPlace.AsSpan(off), expected) && SameBits(inPlace.AsSpan(0, off), x.AsSpan(0, off));
        });
    }

    [Fact]
    public void BinaryMapEqualsTheScalarOverload()
    {
        CheckSets((set, n, off, seed) =>
        {
            var x = SpecialValues(n + off, seed); var y = SpecialValues(n + off, seed + 1);
            float alpha = SpecialValues(1, seed + 2)[0];
            var expected = Enumerable.Range(off, n).Select(i => AxpyOperator.Invoke(alpha, x[i], y[i])).ToArray();
            var d = GuardedDestination(n, off);
            ElementwiseDriver.Map<AxpyOperator, float>(alpha, x.AsSpan(off), y.AsSpan(off), d.AsSpan(off), set);
            var d2 = GuardedDestination(n, off);
            ElementwiseDriver.Map<SubtractThenHalve, float>(0.5f, x.AsSpan(off), y.AsSpan(off), d2.AsSpan(off), set);
            var expected2 = Enumerable.Range(off, n).Select(i => (x[i] - y[i]) * 0.5f).ToArray();
            return SameBits(d.AsSpan(off, n), expected) && GuardsIntact(d, n, off)
                && SameBits(d2.AsSpan(off, n), expected2) && GuardsIntact(d2, n, off);
        });
    }

    [Fact]
    public void UpdateEqualsTheScalarOverloadOnEveryState()
    {
        CheckSets((set, n, off, seed) =>
        {
            var x = SpecialValues(n + off, seed);
            var s = Enumerable.Range(1, 3).Select(k => SpecialValues(n + off, seed + k)).ToArray();
            var e = s.Select(a => (float[])a.Clone()).ToArray();
            for (int i = off; i < n + off; i++) MixState.Invoke(default, x[i], ref e[0][i], ref e[1][i], ref e[2][i]);
            ElementwiseDriver.Update<MixState, NoArgs>(default, x.AsSpan(off), s[0].AsSpan(off), s[1].AsSpan(off), s[2].AsSpan(off), set);
            return SameBits(s[0], e[0]) && SameBits(s[1], e[1]) && SameBits(s[2], e[2]);
        });
    }

    [Fact]
    public void SelectCountsAndEmitsTheKeptElementsInIndexOrder()
    {
        CheckSets((set, n, off, seed) =>
        {
            var z = SpecialValues(n + off, seed); var b = SpecialValues(n + off, seed + 1);
            var state = SpecialValues(n, seed + 2); var expectedState = (float[])state.Clone();
            var counts = Enumerable.Range(0, n).Select(i => i % 3).ToArray(); var expectedCounts = (int[])counts.Clone();
            var expectedIndex = new List<int>(); var expectedValues = new List<float>();
            for (int i = 0; i < n; i++)
            {
                float v = GateOperator<ReluForm>.Invoke(z[off + i], b[off + i], ref expectedState[i], out bool keep);
                if (!keep) continue;
                expectedCounts[i]++; expectedIndex.Add(i); expectedValues.Add(v);
            }
            var index = new int[n]; var values = new float[n];
            int kept = ElementwiseDriver.Select<GateOperator<ReluForm>>(z.AsSpan(off), b.AsSpan(off), state, counts, index, values, set);
            return kept == expectedIndex.Count && index.AsSpan(0, kept).SequenceEqual(expectedIndex.ToArray())
                && SameBits(values.AsSpan(0, kept), expectedValues.ToArray()) && values.Skip(kept).All(v => v == 0)
                && counts.SequenceEqual(expectedCounts) && SameBits(state, expectedState);
        });
    }

    [Fact]
    public void SumKeepsDotsPinnedSummationOrder()
    {
        CheckSets((set, n, off, seed) =>
        {
            var x = SpecialValues(n + off, seed); var y = SpecialValues(n + off, seed + 1);
            var r = Values(n + off, seed + 2, false);
            float pinned = PinnedDot(x.AsSpan(off), y.AsSpan(off), set);
            float sum = SumDriver.Sum<DotOperator>(x.AsSpan(off), y.AsSpan(off), set);
            float dot = Blas1.Dot(x.AsSpan(off), y.AsSpan(off), set);
            float squares = SumDriver.Sum<DotOperator>(r.AsSpan(off), set);
            return SameBits([sum, dot, squares], [pinned, pinned, PinnedDot(r.AsSpan(off), r.AsSpan(off), set)]);
        });
    }

    [Fact]
    public void RowNormIsDotThenScaleAndMatchesItsTwin()
    {
        CheckSets((set, n, off, seed) =>
        {
            var x = Values(n + off, seed, false);
            if (seed % 7 == 0) Array.Clear(x);
            var fast = (float[])x.Clone(); var composed = (float[])x.Clone(); var twin = (float[])x.Clone();
            RowNorm.Normalize(fast.AsSpan(off), set);
            float n2 = Blas1.Dot(composed.AsSpan(off), composed.AsSpan(off), set);
            if (n2 > 0) Blas1.Scale(1f / MathF.Sqrt(n2), composed.AsSpan(off), set);
            RowNormReference.Normalize(twin.AsSpan(off));
            // The float sum of n squares is within about n ulps of the twin's double sum.
            double tol = 4 * (n + 2) * 6e-8;
            bool close = true;
            for (int i = off; i < n + off; i++) close &= Math.Abs(fast[i] - twin[i]) <= tol * Math.Abs(twin[i]);
            double norm2 = fast.Skip(off).Sum(v => (double)v * v);
            bool unit = n2 > 0 ? Math.Abs(norm2 - 1) <= tol : fast.Skip(off).All(v => v == 0);
            return SameBits(fast, composed) && close && unit;
        });
    }

    [Fact]
    public void LengthMismatchesAreArgumentErrors()
    {
        foreach (var set in Sets)
        {
            Assert.Throws<ArgumentException>(() => ElementwiseDriver.Map<ScaleOperator, float>(2f, new float[9], new float[8], set));
            Assert.Throws<ArgumentException>(() => ElementwiseDriver.Map<AxpyOperator, float>(2f, new float[9], new float[8], new float[9], set));
            Assert.Throws<ArgumentException>(() => ElementwiseDriver.Update<MixState, NoArgs>(default, new float[9], new float[9], new float[9], new float[8], set));
            Assert.Throws<ArgumentException>(() => ElementwiseDriver.Select<GateOperator<ReluForm>>(new float[9], new float[9], new float[9], new int[9], new int[8], new float[9], set));
            Assert.Throws<ArgumentException>(() => SumDriver.Sum<DotOperator>(new float[9], new float[8], set));
        }
    }

    /// <summary>Dot's summation as it stood before the drivers; the engine's results depend on this order.</summary>
    static float PinnedDot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelSet set)
    {
        int n = x.Length, i = 0;
        float sum = 0;
        if (set == KernelSet.Avx512 && n >= 16)
        {
            var a0 = Vector512<float>.Zero; var a1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(x.Slice(i, 16)), Vector512.Create(y.Slice(i, 16)), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(x.Slice(i + 16, 16)), Vector512.Create(y.Slice(i + 16, 16)), a1);
            }
            for (; i <= n - 16; i += 16) a0 = Vector512.FusedMultiplyAdd(Vector512.Create(x.Slice(i, 16)), Vector512.Create(y.Slice(i, 16)), a0);
            sum = Vector512.Sum(a0 + a1);
        }
        else if (set >= KernelSet.Avx2 && n >= 8)
        {
            var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.Create(x.Slice(i, 8)), Vector256.Create(y.Slice(i, 8)), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.Create(x.Slice(i + 8, 8)), Vector256.Create(y.Slice(i + 8, 8)), a1);
            }
            for (; i <= n - 8; i += 8) a0 = Vector256.FusedMultiplyAdd(Vector256.Create(x.Slice(i, 8)), Vector256.Create(y.Slice(i, 8)), a0);
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(x[i], y[i], sum);
        return sum;
    }

    struct NoArgs;

    /// <summary>(x − y)·half: two roundings, so a fused or reordered driver would show.</summary>
    readonly struct SubtractThenHalve : IBinaryOperator<float>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Invoke(float half, float x, float y) => (x - y) * half;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Invoke(float half, Vector256<float> x, Vector256<float> y) => (x - y) * Vector256.Create(half);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Invoke(float half, Vector512<float> x, Vector512<float> y) => (x - y) * Vector512.Create(half);
    }

    /// <summary>Each state depends on x and on another state's old or new value, so a mixed-up state order shows.</summary>
    readonly struct MixState : IUpdateOperator<NoArgs>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(NoArgs _, float x, ref float s0, ref float s1, ref float s2)
        {
            float old0 = s0;
            s0 += x;
            s1 = MathF.Max(s1 * x, old0);
            s2 = MathF.FusedMultiplyAdd(s2, s0, s1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(NoArgs _, Vector256<float> x, ref Vector256<float> s0, ref Vector256<float> s1, ref Vector256<float> s2)
        {
            var old0 = s0;
            s0 += x;
            s1 = Vector256.Max(s1 * x, old0);
            s2 = Vector256.FusedMultiplyAdd(s2, s0, s1);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke(NoArgs _, Vector512<float> x, ref Vector512<float> s0, ref Vector512<float> s1, ref Vector512<float> s2)
        {
            var old0 = s0;
            s0 += x;
            s1 = Vector512.Max(s1 * x, old0);
            s2 = Vector512.FusedMultiplyAdd(s2, s0, s1);
        }
    }
}
