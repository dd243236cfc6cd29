using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// Level-1 vector kernels used by the sparse decoder and the sparse backward: dot, axpy, scale.
/// Each has a plain scalar twin (<see cref="Blas1Reference"/>) with the same signature; the SIMD
/// versions follow <see cref="KernelSelector.Current"/> and run on the shared drivers
/// (<see cref="ElementwiseDriver"/>, <see cref="SumDriver"/>). Dot may differ from the twin by
/// rounding (different summation order); axpy/scale are element-wise and match it bit for bit
/// because each element is one fused or plain operation in both (see the notes per method).
/// </summary>
internal static class Blas1
{
    /// <summary>Σ x[i]·y[i] over the common length.</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y) => Dot(x, y, KernelSelector.Current);

    /// <summary>Σ x[i]·y[i], one FMA per element into the accumulators of <see cref="SumDriver"/>.</summary>
    public static float Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y, KernelSet set)
    {
        if (x.Length != y.Length) throw new ArgumentException("Dot: lengths differ.");
        return SumDriver.Sum<DotOperator>(x, y, set);
    }

    /// <summary>y[i] += alpha·x[i] (one fused multiply-add per element, as in the twin).</summary>
    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y) => Axpy(alpha, x, y, KernelSelector.Current);

    public static void Axpy(float alpha, ReadOnlySpan<float> x, Span<float> y, KernelSet set)
    {
        if (x.Length != y.Length) throw new ArgumentException("Axpy: lengths differ.");
        ElementwiseDriver.Map<AxpyOperator, float>(alpha, x, y, y, set);
    }

    /// <summary>x[i] *= alpha.</summary>
    public static void Scale(float alpha, Span<float> x) => Scale(alpha, x, KernelSelector.Current);

    public static void Scale(float alpha, Span<float> x, KernelSet set) => ElementwiseDriver.Map<ScaleOperator, float>(alpha, x, x, set);
}

/// <summary>acc + x·y as one fused multiply-add.</summary>
internal readonly struct DotOperator : ISumOperator
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Accumulate(float acc, float x, float y) => MathF.FusedMultiplyAdd(x, y, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Accumulate(Vector256<float> acc, Vector256<float> x, Vector256<float> y) => Vector256.FusedMultiplyAdd(x, y, acc);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Accumulate(Vector512<float> acc, Vector512<float> x, Vector512<float> y) => Vector512.FusedMultiplyAdd(x, y, acc);
}

/// <summary>alpha·x + y as one fused multiply-add (args = alpha).</summary>
internal readonly struct AxpyOperator : IBinaryOperator<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float alpha, float x, float y) => MathF.FusedMultiplyAdd(alpha, x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(float alpha, Vector256<float> x, Vector256<float> y) => Vector256.FusedMultiplyAdd(Vector256.Create(alpha), x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(float alpha, Vector512<float> x, Vector512<float> y) => Vector512.FusedMultiplyAdd(Vector512.Create(alpha), x, y);
}

/// <summary>x·alpha, one rounded multiply (args = alpha).</summary>
internal readonly struct ScaleOperator : IUnaryOperator<float>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float alpha, float x) => x * alpha;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(float alpha, Vector256<float> x) => x * Vector256.Create(alpha);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(float alpha, Vector512<float> x) => x * Vector512.Create(alpha);
}

/// <summary>The scalar twins of <see cref="Blas1"/>: the definition the SIMD paths are tested against.</summary>
internal static class Blas1Reference
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
