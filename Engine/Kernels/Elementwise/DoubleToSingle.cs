using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// binary64 -> binary32, element-wise: dst[i] = (float)src[i], round to nearest even, overflow to
/// +-inf, NaN stays NaN. <see cref="ConvertScalar"/> (the C# cast) is the reference twin; the vector
/// paths use Narrow (vcvtpd2ps), which rounds the same way, so results match bit for bit.
/// Tails re-run the last full vector over the original input.
/// </summary>
public static class DoubleToSingle
{
    public static void Convert(ReadOnlySpan<double> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("Destination is shorter than source.", nameof(dst));
        switch (KernelSelector.Current)
        {
            case KernelSet.Avx512: ConvertVector512(src, dst); break;
            case KernelSet.Avx2: ConvertVector256(src, dst); break;
            default: ConvertScalar(src, dst); break;
        }
    }

    public static void ConvertScalar(ReadOnlySpan<double> src, Span<float> dst)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = (float)src[i];
    }

    internal static void ConvertVector512(ReadOnlySpan<double> src, Span<float> dst)
    {
        const int Step = 16;
        int n = src.Length;
        if (n < Step) { ConvertScalar(src, dst); return; }
        ref double s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; ; i += Step)
        {
            if (i > n - Step) i = n - Step;
            Vector512.Narrow(Vector512.LoadUnsafe(ref s, (nuint)i), Vector512.LoadUnsafe(ref s, (nuint)(i + 8))).StoreUnsafe(ref d, (nuint)i);
            if (i == n - Step) break;
        }
    }

    internal static void ConvertVector256(ReadOnlySpan<double> src, Span<float> dst)
    {
        const int Step = 8;
        int n = src.Length;
        if (n < Step) { ConvertScalar(src, dst); return; }
        ref double s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        for (int i = 0; ; i += Step)
        {
            if (i > n - Step) i = n - Step;
            Vector256.Narrow(Vector256.LoadUnsafe(ref s, (nuint)i), Vector256.LoadUnsafe(ref s, (nuint)(i + 4))).StoreUnsafe(ref d, (nuint)i);
            if (i == n - Step) break;
        }
    }
}
