using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Activations;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;

namespace GbaEngine.Tests.Activations;

/// <summary>
/// Every vector path of the dtype conversions against its scalar twin, bit for bit, and the twins
/// against independent references ((float)Half, the bf16 definition, the C# double cast).
/// Vector paths are called directly per supported width, so no test touches the global kernel choice.
/// </summary>
[Trait("Category", "Kernels")]
public class ConversionKernelTests
{
    public static TheoryData<KernelSet> Sets()
    {
        var d = new TheoryData<KernelSet>();
        foreach (var s in KernelSelector.Supported) d.Add(s);
        return d;
    }

    static void Half(KernelSet set, ReadOnlySpan<ushort> s, Span<float> d)
    {
        if (set == KernelSet.Avx512) HalfToSingle.ConvertVector512(s, d);
        else if (set == KernelSet.Avx2) HalfToSingle.ConvertVector256(s, d);
        else HalfToSingle.ConvertScalar(s, d);
    }

    static void BFloat(KernelSet set, ReadOnlySpan<ushort> s, Span<float> d)
    {
        if (set == KernelSet.Avx512) BFloat16ToSingle.ConvertVector512(s, d);
        else if (set == KernelSet.Avx2) BFloat16ToSingle.ConvertVector256(s, d);
        else BFloat16ToSingle.ConvertScalar(s, d);
    }

    static void Double(KernelSet set, ReadOnlySpan<double> s, Span<float> d)
    {
        if (set == KernelSet.Avx512) DoubleToSingle.ConvertVector512(s, d);
        else if (set == KernelSet.Avx2) DoubleToSingle.ConvertVector256(s, d);
        else DoubleToSingle.ConvertScalar(s, d);
    }

    static bool AnyNonFinite(KernelSet set, ReadOnlySpan<float> x) => set switch
    {
        KernelSet.Avx512 => NonFinite.AnyVector512(x),
        KernelSet.Avx2 => NonFinite.AnyVector256(x),
        _ => NonFinite.AnyScalar(x),
    };

    static ushort[] AllPatterns() => Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();

    [Theory, MemberData(nameof(Sets))]
    public void Half_all_65536_patterns_match_scalar_twin_and_Half_cast(KernelSet set)
    {
        var src = AllPatterns();
        var scalar = new float[src.Length];
        var vector = new float[src.Length];
        HalfToSingle.ConvertScalar(src, scalar);
        Half(set, src, vector);
        TestFiles.AssertBitsEqual(scalar, vector);
        for (int i = 0; i < src.Length; i++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf(src[i]);
            if (float.IsNaN(expected)) Assert.True(float.IsNaN(scalar[i]), $"pattern 0x{i:X4}");
            else Assert.Equal(BitConverter.SingleToUInt32Bits(expected), BitConverter.SingleToUInt32Bits(scalar[i]));
        }
    }

    [Theory, MemberData(nameof(Sets))]
    public void BFloat16_all_65536_patterns_match_scalar_twin_and_definition(KernelSet set)
    {
        var src = AllPatterns();
        var scalar = new float[src.Length];
        var vector = new float[src.Length];
        BFloat16ToSingle.ConvertScalar(src, scalar);
        BFloat(set, src, vector);
        TestFiles.AssertBitsEqual(scalar, vector);
        for (int i = 0; i < src.Length; i++)
        {
            int sign = i >> 15, exp = (i >> 7) & 0xFF, mant = i & 0x7F;
            if (exp == 0xFF)
            {
                Assert.Equal(mant != 0, float.IsNaN(scalar[i]));
                continue;
            }
            double magnitude = exp == 0 ? mant / 128.0 * Math.Pow(2, -126) : (1 + mant / 128.0) * Math.Pow(2, exp - 127);
            Assert.Equal(sign == 1 ? -magnitude : magnitude, (double)scalar[i]);
            Assert.Equal(sign == 1, float.IsNegative(scalar[i]));
        }
    }

    static readonly double[] Specials = [0.0, -0.0, double.NaN, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, 1e-40, -1e-45, 3.5e38, -3.5e38, 1e300, float.MaxValue, 1.0 / 3];

    static Arbitrary<(int Length, int Start, int Seed)> Shapes() =>
        (from length in Gen.Choose(0, 300)
         from start in Gen.Choose(0, 17)
         from seed in Gen.Choose(0, int.MaxValue)
         select (length, start, seed)).ToArbitrary();

    static readonly Config Quick = Config.QuickThrowOnFailure.WithMaxTest(150);

    [Fact]
    public void Random_lengths_and_misaligned_starts_match_scalar_twins_for_every_width()
    {
        Check.One(Quick, Prop.ForAll(Shapes(), c =>
        {
            var rng = new Random(c.Seed);
            var halves = new ushort[c.Start + c.Length];
            foreach (ref var h in halves.AsSpan()) h = (ushort)rng.Next(0x10000);
            var doubles = new double[c.Start + c.Length];
            for (int i = 0; i < doubles.Length; i++)
                doubles[i] = rng.Next(8) == 0 ? Specials[rng.Next(Specials.Length)] : (rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-160, 160));
            var floats = new float[c.Start + c.Length];
            for (int i = 0; i < floats.Length; i++) floats[i] = (float)(rng.NextDouble() * 10 - 5);
            if (c.Length > 0 && rng.Next(2) == 0)
                floats[c.Start + rng.Next(c.Length)] = rng.Next(3) switch { 0 => float.NaN, 1 => float.PositiveInfinity, _ => float.NegativeInfinity };

            foreach (var set in KernelSelector.Supported)
            {
                // Destinations start misaligned too (offset 3) and carry a guard element that must survive.
                var hs = halves.AsSpan(c.Start);
                var want = new float[c.Length + 4];
                var got = new float[c.Length + 4];
                want[^1] = got[^1] = 42f;
                HalfToSingle.ConvertScalar(hs, want.AsSpan(3));
                Half(set, hs, got.AsSpan(3));
                TestFiles.AssertBitsEqual(want, got);

                BFloat16ToSingle.ConvertScalar(hs, want.AsSpan(3));
                BFloat(set, hs, got.AsSpan(3));
                TestFiles.AssertBitsEqual(want, got);

                var ds = doubles.AsSpan(c.Start);
                DoubleToSingle.ConvertScalar(ds, want.AsSpan(3));
                Double(set, ds, got.AsSpan(3));
                TestFiles.AssertBitsEqual(want, got);
                for (int i = 0; i < c.Length; i++)
                    Assert.Equal(BitConverter.SingleToUInt32Bits((float)ds[i]), BitConverter.SingleToUInt32Bits(got[3 + i]));

                var fs = floats.AsSpan(c.Start);
                Assert.Equal(NonFinite.AnyScalar(fs), AnyNonFinite(set, fs));
            }
        }));
    }

    [Fact]
    public void NonFinite_finds_a_single_bad_value_at_every_position()
    {
        foreach (var set in KernelSelector.Supported)
            for (int n = 1; n <= 70; n++)
                for (int p = 0; p < n; p++)
                    foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                    {
                        var x = new float[n];
                        x.AsSpan().Fill(float.MaxValue);
                        Assert.False(AnyNonFinite(set, x));
                        x[p] = bad;
                        Assert.True(AnyNonFinite(set, x), $"{set}: n={n} p={p} {bad}");
                    }
    }

    [Fact]
    public void Dispatching_entry_points_use_a_supported_path()
    {
        var src = new ushort[] { 0x3C00, 0xC000, 0x0001, 0x7C00 };
        var dst = new float[4];
        HalfToSingle.Convert(src, dst);
        Assert.Equal([1f, -2f, MathF.Pow(2, -24), float.PositiveInfinity], dst);
        BFloat16ToSingle.Convert(new ushort[] { 0x3F80, 0xC000, 0, 0x8000 }, dst);
        Assert.Equal([1f, -2f, 0f, -0f], dst);
        DoubleToSingle.Convert(new[] { 1.0, -2.5, 1e300, 0.1 }, dst);
        Assert.Equal([1f, -2.5f, float.PositiveInfinity, 0.1f], dst);
        Assert.Throws<ArgumentException>(() => HalfToSingle.Convert(src, new float[3]));
        Assert.True(NonFinite.Any([1f, float.NaN]));
    }
}
