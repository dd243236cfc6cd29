using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// IEEE binary16 -> binary32, element-wise: dst[i] = (float)src[i] where src holds raw f16 bits.
/// .NET 10 exposes no F16C / vcvtph2ps intrinsic, so every width uses the same exact bit recipe
/// (after Giesen's half_to_float): shift exponent+mantissa into place, rebias the exponent by
/// 127-15, rebias once more for inf/NaN, and renormalise zero/subnormals with one exact float
/// subtraction (2^-14 + m*2^-24 - 2^-14 is representable, so no rounding happens).
/// <see cref="ConvertScalar"/> is the reference twin; the Vector256/Vector512 paths match it bit for
/// bit, NaN payloads included (payload shifted, not quieted). For non-NaN inputs the result equals
/// (float)Half exactly. Tails re-run the last full vector over the original input (dst never aliases src).
/// </summary>
public static class HalfToSingle
{
    const uint ExpMantissaMask = 0x7FFF, SignMask = 0x8000;
    const uint ShiftedExp = 0x7C00u << 13;            // f16 exponent field after the shift
    const uint Rebias = (127 - 15) << 23;             // f16 -> f32 exponent bias
    const uint InfNanRebias = (128 - 16) << 23;       // lifts exponent 31+112 to 255
    const uint SubnormalMagic = 113u << 23;           // 2^-14 as float bits

    public static void Convert(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Destination is shorter than source.", nameof(dst));
        switch (KernelSelector.Current)
        {
            case KernelSet.Avx512: ConvertVector512(src, dst); break;
            case KernelSet.Avx2: ConvertVector256(src, dst); break;
            default: ConvertScalar(src, dst); break;
        }
    }

    public static void ConvertScalar(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = Convert(src[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Convert(ushort h)
    {
        uint o = (h & ExpMantissaMask) << 13;
        uint e = o & ShiftedExp;
        o += Rebias;
        if (e == ShiftedExp) o += InfNanRebias;
        else if (e == 0) o = BitConverter.SingleToUInt32Bits(BitConverter.UInt32BitsToSingle(o + (1u << 23)) - BitConverter.UInt32BitsToSingle(SubnormalMagic));
        return BitConverter.UInt32BitsToSingle(o | ((h & SignMask) << 16));
    }

    internal static void ConvertVector512(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        const int Step = 32;
        int n = src.Length;
        if (n < Step) { ConvertScalar(src, dst); return; }
        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; ; i += Step)
        {
            if (i > n - Step) i = n - Step;
            var (lo, hi) = Vector512.Widen(Vector512.LoadUnsafe(ref s, (nuint)i));
            Widen(lo).StoreUnsafe(ref d, (nuint)i);
            Widen(hi).StoreUnsafe(ref d, (nuint)(i + 16));
            if (i == n - Step) break;
        }
    }

    internal static void ConvertVector256(ReadOnlySpan<ushort> src, Span<float> dst)
    {
        const int Step = 16;
        int n = src.Length;
        if (n < Step) { ConvertScalar(src, dst); return; }
        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; ; i += Step)
        {
            if (i > n - Step) i = n - Step;
            var (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref s, (nuint)i));
            Widen(lo).StoreUnsafe(ref d, (nuint)i);
            Widen(hi).StoreUnsafe(ref d, (nuint)(i + 8));
            if (i == n - Step) break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Widen(Vector512<uint> h)
    {
        var o = (h & Vector512.Create(ExpMantissaMask)) << 13;
        var e = o & Vector512.Create(ShiftedExp);
        o += Vector512.Create(Rebias);
        o += Vector512.Equals(e, Vector512.Create(ShiftedExp)) & Vector512.Create(InfNanRebias);
        var sub = ((o + Vector512.Create(1u << 23)).AsSingle() - Vector512.Create(SubnormalMagic).AsSingle()).AsUInt32();
        o = Vector512.ConditionalSelect(Vector512.Equals(e, Vector512<uint>.Zero), sub, o);
        return (o | ((h & Vector512.Create(SignMask)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Widen(Vector256<uint> h)
    {
        var o = (h & Vector256.Create(ExpMantissaMask)) << 13;
        var e = o & Vector256.Create(ShiftedExp);
        o += Vector256.Create(Rebias);
        o += Vector256.Equals(e, Vector256.Create(ShiftedExp)) & Vector256.Create(InfNanRebias);
        var sub = ((o + Vector256.Create(1u << 23)).AsSingle() - Vector256.Create(SubnormalMagic).AsSingle()).AsUInt32();
        o = Vector256.ConditionalSelect(Vector256.Equals(e, Vector256<uint>.Zero), sub, o);
        return (o | ((h & Vector256.Create(SignMask)) << 16)).AsSingle();
    }
}
