using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// binary64 -> binary32, element-wise: dst[i] = (float)src[i], round to nearest even, overflow to
/// +-inf, NaN stays NaN. <see cref="ConvertScalar"/> (the C# cast) is the reference twin; the vector
/// paths use Narrow (vcvtpd2ps), which rounds the same way, so results match bit for bit.
/// Driver and tails: <see cref="ConvertToSingle"/>.
/// </summary>
internal static class DoubleToSingle
{
    public static void Convert(ReadOnlySpan<double> src, Span<float> dst) => ConvertToSingle.Run<double, Op>(src, dst);
    public static void ConvertScalar(ReadOnlySpan<double> src, Span<float> dst) => ConvertToSingle.Scalar<double, Op>(src, dst);
    internal static void ConvertVector256(ReadOnlySpan<double> src, Span<float> dst) => ConvertToSingle.Vector256<double, Op>(src, dst);
    internal static void ConvertVector512(ReadOnlySpan<double> src, Span<float> dst) => ConvertToSingle.Vector512<double, Op>(src, dst);

    struct Op : IConvertToSingle<double>
    {
        public static float Invoke(double x) => (float)x;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke8(ref double source, ref float destination) =>
            Vector256.Narrow(Vector256.LoadUnsafe(ref source), Vector256.LoadUnsafe(ref source, 4)).StoreUnsafe(ref destination);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Invoke16(ref double source, ref float destination) =>
            Vector512.Narrow(Vector512.LoadUnsafe(ref source), Vector512.LoadUnsafe(ref source, 8)).StoreUnsafe(ref destination);
    }
}
