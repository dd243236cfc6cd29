using System.Runtime.CompilerServices;
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
/// (float)Half exactly. Driver and tails: <see cref="ConvertToSingle"/>.
/// </summary>
internal static class HalfToSingle
{
    const uint ExpMantissaMask = 0x7FFF, SignMask = 0x8000;
    const uint ShiftedExp = 0x7C00u << 13;            // f16 exponent field after the shift
    const uint Rebias = (127 - 15) << 23;             // f16 -> f32 exponent bias
    const uint InfNanRebias = (128 - 16) << 23;       // lifts exponent 31+112 to 255
    const uint SubnormalMagic = 113u << 23;           // 2^-14 as float bits

    public static void Convert(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Run<ushort, Op>(src, dst);
    public static void ConvertScalar(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Scalar<ushort, Op>(src, dst);
    internal static void ConvertVector256(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Vector256<ushort, Op>(src, dst);
    internal static void ConvertVector512(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Vector512<ushort, Op>(src, dst);

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

    struct Op : IConvertToSingle<ushort>
    {
        public static float Invoke(ushort x) => Convert(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke8(ref ushort source, ref float destination)
        {
            var h = Vector256.WidenLower(Vector128.LoadUnsafe(ref source).ToVector256Unsafe());
            var o = (h & Vector256.Create(ExpMantissaMask)) << 13;
            var e = o & Vector256.Create(ShiftedExp);
            o += Vector256.Create(Rebias);
            o += Vector256.Equals(e, Vector256.Create(ShiftedExp)) & Vector256.Create(InfNanRebias);
            var sub = ((o + Vector256.Create(1u << 23)).AsSingle() - Vector256.Create(SubnormalMagic).AsSingle()).AsUInt32();
            o = Vector256.ConditionalSelect(Vector256.Equals(e, Vector256<uint>.Zero), sub, o);
            (o | ((h & Vector256.Create(SignMask)) << 16)).AsSingle().StoreUnsafe(ref destination);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke16(ref ushort source, ref float destination)
        {
            var h = Vector512.WidenLower(Vector256.LoadUnsafe(ref source).ToVector512Unsafe());
            var o = (h & Vector512.Create(ExpMantissaMask)) << 13;
            var e = o & Vector512.Create(ShiftedExp);
            o += Vector512.Create(Rebias);
            o += Vector512.Equals(e, Vector512.Create(ShiftedExp)) & Vector512.Create(InfNanRebias);
            var sub = ((o + Vector512.Create(1u << 23)).AsSingle() - Vector512.Create(SubnormalMagic).AsSingle()).AsUInt32();
            o = Vector512.ConditionalSelect(Vector512.Equals(e, Vector512<uint>.Zero), sub, o);
            (o | ((h & Vector512.Create(SignMask)) << 16)).AsSingle().StoreUnsafe(ref destination);
        }
    }
}
