using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// One element-wise conversion to fp32, written once per width: a scalar twin, and blocks of 8
/// (Vector256) and 16 (Vector512) outputs read from the same 8 or 16 inputs. Implementations are
/// small structs so the generic driver specialises and inlines them.
/// </summary>
internal interface IConvertToSingle<TIn> where TIn : unmanaged
{
    static abstract float Invoke(TIn x);
    static abstract void Invoke8(ref TIn source, ref float destination);
    static abstract void Invoke16(ref TIn source, ref float destination);
}

/// <summary>
/// The shared driver for <see cref="IConvertToSingle{TIn}"/>: picks the width from
/// <see cref="KernelSelector.Current"/>, runs whole blocks, and finishes a ragged tail by re-running
/// the last full block over the original input (dst never aliases src, so re-writing a few outputs
/// with the same values is harmless); inputs shorter than one block take the scalar twin.
/// </summary>
internal static class ConvertToSingle
{
    public static void Run<TIn, TOp>(ReadOnlySpan<TIn> source, Span<float> destination)
        where TIn : unmanaged where TOp : IConvertToSingle<TIn>
    {
        if (destination.Length < source.Length) throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        switch (KernelSelector.Current)
        {
            case KernelSet.Avx512: Vector512<TIn, TOp>(source, destination); break;
            case KernelSet.Avx2: Vector256<TIn, TOp>(source, destination); break;
            default: Scalar<TIn, TOp>(source, destination); break;
        }
    }

    public static void Scalar<TIn, TOp>(ReadOnlySpan<TIn> source, Span<float> destination)
        where TIn : unmanaged where TOp : IConvertToSingle<TIn>
    {
        for (int i = 0; i < source.Length; i++) destination[i] = TOp.Invoke(source[i]);
    }

    internal static void Vector256<TIn, TOp>(ReadOnlySpan<TIn> source, Span<float> destination)
        where TIn : unmanaged where TOp : IConvertToSingle<TIn>
    {
        const int Step = 8;
        int n = source.Length;
        if (n < Step) { Scalar<TIn, TOp>(source, destination); return; }
        ref TIn s = ref MemoryMarshal.GetReference(source);
        ref float d = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i <= n - Step; i += Step) TOp.Invoke8(ref Unsafe.Add(ref s, i), ref Unsafe.Add(ref d, i));
        if (n % Step != 0) TOp.Invoke8(ref Unsafe.Add(ref s, n - Step), ref Unsafe.Add(ref d, n - Step));
    }

    internal static void Vector512<TIn, TOp>(ReadOnlySpan<TIn> source, Span<float> destination)
        where TIn : unmanaged where TOp : IConvertToSingle<TIn>
    {
        const int Step = 16;
        int n = source.Length;
        if (n < Step) { Scalar<TIn, TOp>(source, destination); return; }
        ref TIn s = ref MemoryMarshal.GetReference(source);
        ref float d = ref MemoryMarshal.GetReference(destination);
        for (int i = 0; i <= n - Step; i += Step) TOp.Invoke16(ref Unsafe.Add(ref s, i), ref Unsafe.Add(ref d, i));
        if (n % Step != 0) TOp.Invoke16(ref Unsafe.Add(ref s, n - Step), ref Unsafe.Add(ref d, n - Step));
    }
}
