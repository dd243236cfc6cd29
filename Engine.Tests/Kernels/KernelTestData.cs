using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels;

namespace GbaEngine.Tests.Kernels;

/// <summary>Shared FsCheck generators: lengths around vector widths, misaligned offsets, special values.</summary>
public static class KernelTestData
{
    /// <summary>Every kernel set this CPU runs; each property is checked for each.</summary>
    public static IReadOnlyList<KernelSet> Sets => KernelSelector.Supported;

    /// <summary>Lengths 0..300, biased towards multiples of 8/16 and their neighbours.</summary>
    public static Gen<int> Length =>
        Gen.OneOf(Gen.Choose(0, 300), Gen.Choose(0, 18).Select(k => k * 16), Gen.Choose(1, 18).Select(k => k * 16 - 1), Gen.Choose(0, 18).Select(k => k * 16 + 1));

    /// <summary>A start offset into a larger array, so vectors are not always aligned.</summary>
    public static Gen<int> Offset => Gen.Choose(0, 15);

    public static float[] Values(int n, int seed, bool special)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++)
        {
            v[i] = (float)(rng.NextDouble() * 4 - 2);
            if (special && rng.Next(16) == 0)
                v[i] = rng.Next(5) switch { 0 => float.NaN, 1 => float.PositiveInfinity, 2 => float.NegativeInfinity, 3 => -0f, _ => 0f };
        }
        return v;
    }

    public static void Check(Func<int, int, int, bool> property, int maxTest = 200) =>
        Prop.ForAll(Length.ToArbitrary(), Offset.ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), property)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(maxTest));

    /// <summary>Bitwise float equality (NaN == NaN with the same bits; -0 != +0).</summary>
    public static bool SameBits(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (BitConverter.SingleToInt32Bits(a[i]) != BitConverter.SingleToInt32Bits(b[i]) && !(float.IsNaN(a[i]) && float.IsNaN(b[i]))) return false;
        return true;
    }
}
