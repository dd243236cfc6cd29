using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// bfloat16 -> binary32, element-wise: dst[i] = bits(src[i]) &lt;&lt; 16. bf16 is the top half of an
/// f32, so the conversion is exact for every pattern (NaN payloads, subnormals, -0 included).
/// <see cref="ConvertScalar"/> is the reference twin; the vector paths widen u16 -> u32 and shift,
/// matching it bit for bit. Tails re-run the last full vector over the original input.
/// </summary>
public static class BFloat16ToSingle
{
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

    public static float Convert(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

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
            (lo << 16).AsSingle().StoreUnsafe(ref d, (nuint)i);
            (hi << 16).AsSingle().StoreUnsafe(ref d, (nuint)(i + 16));
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
            (lo << 16).AsSingle().StoreUnsafe(ref d, (nuint)i);
            (hi << 16).AsSingle().StoreUnsafe(ref d, (nuint)(i + 8));
            if (i == n - Step) break;
        }
    }
}
