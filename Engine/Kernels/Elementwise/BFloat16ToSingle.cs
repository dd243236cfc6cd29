using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// bfloat16 -> binary32, element-wise: dst[i] = bits(src[i]) &lt;&lt; 16. bf16 is the top half of an
/// f32, so the conversion is exact for every pattern (NaN payloads, subnormals, -0 included).
/// <see cref="ConvertScalar"/> is the reference twin; the vector paths widen u16 -> u32 and shift,
/// matching it bit for bit. Driver and tails: <see cref="ConvertToSingle"/>.
/// </summary>
internal static class BFloat16ToSingle
{
    public static void Convert(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Run<ushort, Op>(src, dst);
    public static void ConvertScalar(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Scalar<ushort, Op>(src, dst);
    internal static void ConvertVector256(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Vector256<ushort, Op>(src, dst);
    internal static void ConvertVector512(ReadOnlySpan<ushort> src, Span<float> dst) => ConvertToSingle.Vector512<ushort, Op>(src, dst);

    public static float Convert(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    struct Op : IConvertToSingle<ushort>
    {
        public static float Invoke(ushort x) => Convert(x);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke8(ref ushort source, ref float destination) =>
            (Vector256.WidenLower(Vector128.LoadUnsafe(ref source).ToVector256Unsafe()) << 16).AsSingle().StoreUnsafe(ref destination);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke16(ref ushort source, ref float destination) =>
            (Vector512.WidenLower(Vector256.LoadUnsafe(ref source).ToVector512Unsafe()) << 16).AsSingle().StoreUnsafe(ref destination);
    }
}
