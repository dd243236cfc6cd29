using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// Level-1 vector kernels used by the sparse decoder and the sparse backward: dot, axpy, scale.
/// Each has a plain scalar twin (<see cref="Blas1Reference"/>) with the same signature; the SIMD
/// versions follow <see cref="KernelSelector.Current"/>. Reductions may differ from the twin by
/// rounding (different summation order); axpy/scale are element-wise and match it bit for bit
/// because each element is one fused or plain operation in both (see the notes per method).
/// </summary>
public static class Blas1
{
    /// <summary>Σ x[i]·y[i] over the common length.</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => Dot(x, y, KernelSelector.Current);

    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelSet set)
    {
        if (x.Length != y.Length) throw new ArgumentException("Dot: lengths differ.");
        int n = x.Length;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int i = 0;
        float sum = 0;
        if (set == KernelSet.Avx512 && n >= 16)
        {
            // Two accumulators hide the 4-cycle FMA latency at the lengths we see (d = 64..1536).
            var a0 = Vector512<float>.Zero; var a1 = Vector512<float>.Zero;
            for (; i <= n - 32; i += 32)
            {
                a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i), a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref px, (nuint)(i + 16)), Vector512.LoadUnsafe(ref py, (nuint)(i + 16)), a1);
            }
            for (; i <= n - 16; i += 16)
                a0 = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i), a0);
            sum = Vector512.Sum(a0 + a1);
        }
        else if (set >= KernelSet.Avx2 && n >= 8)
        {
            var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), a0);
                a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)(i + 8)), Vector256.LoadUnsafe(ref py, (nuint)(i + 8)), a1);
            }
            for (; i <= n - 8; i += 8)
                a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), a0);
            sum = Vector256.Sum(a0 + a1);
        }
        for (; i < n; i++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref px, i), Unsafe.Add(ref py, i), sum);
        return sum;
    }

    /// <summary>y[i] += alpha·x[i] (one fused multiply-add per element, as in the twin).</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y) => Axpy(alpha, x, y, KernelSelector.Current);

    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y, KernelSet set)
    {
        if (x.Length != y.Length) throw new ArgumentException("Axpy: lengths differ.");
        int n = x.Length;
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        int i = 0;
        if (set == KernelSet.Avx512)
        {
            var va = Vector512.Create(alpha);
            for (; i <= n - 16; i += 16)
                Vector512.FusedMultiplyAdd(va, Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        if (set >= KernelSet.Avx2)
        {
            var va = Vector256.Create(alpha);
            for (; i <= n - 8; i += 8)
                Vector256.FusedMultiplyAdd(va, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref py, i) = MathF.FusedMultiplyAdd(alpha, Unsafe.Add(ref px, i), Unsafe.Add(ref py, i));
    }

    /// <summary>x[i] *= alpha.</summary>
    public static void Scale(float alpha, Span<float> x) => Scale(alpha, x, KernelSelector.Current);

    public static void Scale(float alpha, Span<float> x, KernelSet set)
    {
        int n = x.Length;
        ref float px = ref MemoryMarshal.GetReference(x);
        int i = 0;
        if (set == KernelSet.Avx512)
            for (var va = Vector512.Create(alpha); i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref px, (nuint)i) * va).StoreUnsafe(ref px, (nuint)i);
        if (set >= KernelSet.Avx2)
            for (var va = Vector256.Create(alpha); i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref px, (nuint)i) * va).StoreUnsafe(ref px, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref px, i) *= alpha;
    }
}

/// <summary>The scalar twins of <see cref="Blas1"/>: the definition the SIMD paths are tested against.</summary>
public static class Blas1Reference
{
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)x[i] * y[i];
        return (float)s;
    }

    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = MathF.FusedMultiplyAdd(alpha, x[i], y[i]);
    }

    public static void Scale(float alpha, Span<float> x)
    {
        for (int i = 0; i < x.Length; i++) x[i] *= alpha;
    }
}
