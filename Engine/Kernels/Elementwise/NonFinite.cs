using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// Whether a span holds any NaN or +-inf: an f32 is non-finite exactly when its exponent field is all
/// ones, a pure bit test, so the vector paths agree with the scalar twin <see cref="AnyScalar"/> on
/// every input. The loader runs it on every row it delivers, hence the vector paths.
/// </summary>
internal static class NonFinite
{
    const uint ExponentMask = 0x7F800000;

    public static bool Any(ReadOnlySpan<float> x) => Any(x, KernelSelector.Current);

    /// <summary>As <see cref="Any(ReadOnlySpan{float})"/> on the given kernel set (a trainer's or a model's).</summary>
    public static bool Any(ReadOnlySpan<float> x, KernelSet set) => set switch
    {
        KernelSet.Avx512 => AnyVector512(x),
        KernelSet.Avx2 => AnyVector256(x),
        _ => AnyScalar(x),
    };

    public static bool AnyScalar(ReadOnlySpan<float> x)
    {
        foreach (var v in x)
            if ((BitConverter.SingleToUInt32Bits(v) & ExponentMask) == ExponentMask) return true;
        return false;
    }

    internal static bool AnyVector512(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        if (n < 16) return AnyScalar(x);
        ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(x));
        var mask = Vector512.Create(ExponentMask);
        var hit = Vector512<uint>.Zero;
        int i = 0;
        for (; i <= n - 16; i += 16)
            hit |= Vector512.Equals(Vector512.LoadUnsafe(ref s, (nuint)i) & mask, mask);
        if (i < n) hit |= Vector512.Equals(Vector512.LoadUnsafe(ref s, (nuint)(n - 16)) & mask, mask);
        return hit != Vector512<uint>.Zero;
    }

    internal static bool AnyVector256(ReadOnlySpan<float> x)
    {
        int n = x.Length;
        if (n < 8) return AnyScalar(x);
        ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(x));
        var mask = Vector256.Create(ExponentMask);
        var hit = Vector256<uint>.Zero;
        int i = 0;
        for (; i <= n - 8; i += 8)
            hit |= Vector256.Equals(Vector256.LoadUnsafe(ref s, (nuint)i) & mask, mask);
        if (i < n) hit |= Vector256.Equals(Vector256.LoadUnsafe(ref s, (nuint)(n - 8)) & mask, mask);
        return hit != Vector256<uint>.Zero;
    }
}
