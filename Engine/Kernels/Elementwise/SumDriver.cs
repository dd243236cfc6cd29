// The one summation structure of the sum-like reductions (operator: ISumOperator). Other code and
// tests rely on its exact order, so it is fixed here rather than per operator:
//   Avx512, n >= 16: two 16-lane accumulators over 32-float steps (two hide the 4-cycle FMA latency
//                    at d = 64..1536), one more 16-float step into the first, Sum(a0 + a1);
//   Avx2 (and Avx512 with 8 <= n < 16): the same with 8 lanes and 16-float steps;
//   then the remaining elements one by one into that sum, in index order (all of them for Scalar).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

internal static class SumDriver
{
    /// <summary>Σ TOp over (x[i], y[i]), i &lt; x.Length.</summary>
    public static float Sum<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelSet set) where TOp : ISumOperator
    {
        if (y.Length < x.Length) throw new ArgumentException("y is shorter than x.", nameof(y));
        return Sum<TOp>(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), x.Length, set);
    }

    /// <summary>Σ TOp over (x[i], x[i]): the same sum as Sum(x, x), reading x once.</summary>
    public static float Sum<TOp>(ReadOnlySpan<float> x, KernelSet set) where TOp : ISumOperator
    {
        ref float px = ref MemoryMarshal.GetReference(x);
        return Sum<TOp>(ref px, ref px, x.Length, set);
    }

    // Not inlined: one copy of the loops per operator, called from every Dot site as before.
    [MethodImpl(MethodImplOptions.NoInlining)]
    static float Sum<TOp>(ref float px, ref float py, int n, KernelSet set) where TOp : ISumOperator
    {
        int i = 0;
        float sum = 0;
        if (set == KernelSet.Avx512 && n >= 16)
        {
            var a0 = Vector512<float>.Zero; var a1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                a0 = TOp.Accumulate(a0, Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i));
                a1 = TOp.Accumulate(a1, Vector512.LoadUnsafe(ref px, (nuint)(i + 16)), Vector512.LoadUnsafe(ref py, (nuint)(i + 16)));
            }
            for (; i <= n - 16; i += 16)
                a0 = TOp.Accumulate(a0, Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i));
            sum = Vector512.Sum(a0 + a1);
        }
        else if (set >= KernelSet.Avx2 && n >= 8)
        {
            var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                a0 = TOp.Accumulate(a0, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i));
                a1 = TOp.Accumulate(a1, Vector256.LoadUnsafe(ref px, (nuint)(i + 8)), Vector256.LoadUnsafe(ref py, (nuint)(i + 8)));
            }
            for (; i <= n - 8; i += 8)
                a0 = TOp.Accumulate(a0, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i));
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) sum = TOp.Accumulate(sum, Unsafe.Add(ref px, i), Unsafe.Add(ref py, i));
        return sum;
    }
}
