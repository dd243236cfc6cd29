// The per-width loops of every element-wise map, written once (operators: ElementwiseOperators.cs).
// Width follows the KernelSet argument: Avx512 runs 16-float blocks, then one 8-float block if at
// least 8 remain; Avx2 runs 8-float blocks; the last < 8 elements (and everything for Scalar) take
// the operator's float overload. No block is ever re-run, so a destination or state span may be the
// very span an input reads (in place: Blas1.Scale, Axpy's y); it must not overlap one partially.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

internal static class ElementwiseDriver
{
    /// <summary>destination[i] = TOp(x[i]) for i &lt; x.Length.</summary>
    public static void Map<TOp, TArgs>(TArgs args, ReadOnlySpan<float> x, Span<float> destination, KernelSet set)
        where TOp : IUnaryOperator<TArgs> where TArgs : struct
    {
        int n = x.Length;
        if (destination.Length < n) throw new ArgumentException("Destination is shorter than the input.", nameof(destination));
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float pd = ref MemoryMarshal.GetReference(destination);
        int i = 0;
        if (set == KernelSet.Avx512)
            for (; i <= n - 16; i += 16)
                TOp.Invoke(args, Vector512.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref pd, (nuint)i);
        if (set >= KernelSet.Avx2)
            for (; i <= n - 8; i += 8)
                TOp.Invoke(args, Vector256.LoadUnsafe(ref px, (nuint)i)).StoreUnsafe(ref pd, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref pd, i) = TOp.Invoke(args, Unsafe.Add(ref px, i));
    }

    /// <summary>destination[i] = TOp(x[i], y[i]) for i &lt; x.Length.</summary>
    public static void Map<TOp, TArgs>(TArgs args, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> destination, KernelSet set)
        where TOp : IBinaryOperator<TArgs> where TArgs : struct
    {
        int n = x.Length;
        if (y.Length < n || destination.Length < n) throw new ArgumentException("An input or the destination is shorter than x.");
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float pd = ref MemoryMarshal.GetReference(destination);
        int i = 0;
        if (set == KernelSet.Avx512)
            for (; i <= n - 16; i += 16)
                TOp.Invoke(args, Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref pd, (nuint)i);
        if (set >= KernelSet.Avx2)
            for (; i <= n - 8; i += 8)
                TOp.Invoke(args, Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i)).StoreUnsafe(ref pd, (nuint)i);
        for (; i < n; i++) Unsafe.Add(ref pd, i) = TOp.Invoke(args, Unsafe.Add(ref px, i), Unsafe.Add(ref py, i));
    }

    /// <summary>(s0[i], s1[i], s2[i]) = TOp(x[i], s0[i], s1[i], s2[i]) for i &lt; x.Length.</summary>
    public static void Update<TOp, TArgs>(TArgs args, ReadOnlySpan<float> x, Span<float> s0, Span<float> s1, Span<float> s2, KernelSet set)
        where TOp : IUpdateOperator<TArgs> where TArgs : struct
    {
        int n = x.Length;
        if (s0.Length < n || s1.Length < n || s2.Length < n) throw new ArgumentException("A state span is shorter than the input.");
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float r0 = ref MemoryMarshal.GetReference(s0);
        ref float r1 = ref MemoryMarshal.GetReference(s1);
        ref float r2 = ref MemoryMarshal.GetReference(s2);
        int i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i <= n - 16; i += 16)
            {
                var a = Vector512.LoadUnsafe(ref r0, (nuint)i); var b = Vector512.LoadUnsafe(ref r1, (nuint)i); var c = Vector512.LoadUnsafe(ref r2, (nuint)i);
                TOp.Invoke(args, Vector512.LoadUnsafe(ref px, (nuint)i), ref a, ref b, ref c);
                a.StoreUnsafe(ref r0, (nuint)i); b.StoreUnsafe(ref r1, (nuint)i); c.StoreUnsafe(ref r2, (nuint)i);
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i <= n - 8; i += 8)
            {
                var a = Vector256.LoadUnsafe(ref r0, (nuint)i); var b = Vector256.LoadUnsafe(ref r1, (nuint)i); var c = Vector256.LoadUnsafe(ref r2, (nuint)i);
                TOp.Invoke(args, Vector256.LoadUnsafe(ref px, (nuint)i), ref a, ref b, ref c);
                a.StoreUnsafe(ref r0, (nuint)i); b.StoreUnsafe(ref r1, (nuint)i); c.StoreUnsafe(ref r2, (nuint)i);
            }
        }
        for (; i < n; i++)
            TOp.Invoke(args, Unsafe.Add(ref px, i), ref Unsafe.Add(ref r0, i), ref Unsafe.Add(ref r1, i), ref Unsafe.Add(ref r2, i));
    }

    /// <summary>
    /// For i &lt; x.Length: value = TOp(x[i], y[i], ref state[i], out keep); where kept, counts[i]++
    /// and (i, value) is appended to (index, values). Returns the number appended.
    /// </summary>
    public static int Select<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> y, Span<float> state, Span<int> counts,
        Span<int> index, Span<float> values, KernelSet set)
        where TOp : ISelectOperator
    {
        int n = x.Length;
        if (y.Length < n || state.Length < n || counts.Length < n || index.Length < n || values.Length < n)
            throw new ArgumentException("A buffer is shorter than the input.");
        ref float px = ref MemoryMarshal.GetReference(x);
        ref float py = ref MemoryMarshal.GetReference(y);
        ref float ps = ref MemoryMarshal.GetReference(state);
        ref int pc = ref MemoryMarshal.GetReference(counts);
        ref int pi = ref MemoryMarshal.GetReference(index);
        ref float pv = ref MemoryMarshal.GetReference(values);
        int count = 0, i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i <= n - 16; i += 16)
            {
                var s = Vector512.LoadUnsafe(ref ps, (nuint)i);
                var v = TOp.Invoke(Vector512.LoadUnsafe(ref px, (nuint)i), Vector512.LoadUnsafe(ref py, (nuint)i), ref s, out var keep);
                s.StoreUnsafe(ref ps, (nuint)i);
                // A kept lane is all ones, i.e. -1 as an int: subtracting it counts it.
                (Vector512.LoadUnsafe(ref pc, (nuint)i) - keep.AsInt32()).StoreUnsafe(ref pc, (nuint)i);
                ulong bits = keep.ExtractMostSignificantBits();
                while (bits != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(bits);
                    Unsafe.Add(ref pi, count) = i + lane;
                    Unsafe.Add(ref pv, count++) = v.GetElement(lane);
                    bits &= bits - 1;
                }
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i <= n - 8; i += 8)
            {
                var s = Vector256.LoadUnsafe(ref ps, (nuint)i);
                var v = TOp.Invoke(Vector256.LoadUnsafe(ref px, (nuint)i), Vector256.LoadUnsafe(ref py, (nuint)i), ref s, out var keep);
                s.StoreUnsafe(ref ps, (nuint)i);
                (Vector256.LoadUnsafe(ref pc, (nuint)i) - keep.AsInt32()).StoreUnsafe(ref pc, (nuint)i);
                uint bits = keep.ExtractMostSignificantBits();
                while (bits != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(bits);
                    Unsafe.Add(ref pi, count) = i + lane;
                    Unsafe.Add(ref pv, count++) = v.GetElement(lane);
                    bits &= bits - 1;
                }
            }
        }
        for (; i < n; i++)
        {
            float v = TOp.Invoke(Unsafe.Add(ref px, i), Unsafe.Add(ref py, i), ref Unsafe.Add(ref ps, i), out bool keep);
            if (!keep) continue;
            Unsafe.Add(ref pc, i)++;
            Unsafe.Add(ref pi, count) = i;
            Unsafe.Add(ref pv, count++) = v;
        }
        return count;
    }
}
