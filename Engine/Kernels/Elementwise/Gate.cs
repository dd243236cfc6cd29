using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using GbaEngine.Model;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// The per-token epilogue of the encoder: y = z + b, the gate, the running GBA statistics
/// (fire count and max y per neuron) and emission of the sparse code (ascending neuron index, value
/// h with f = a·h). Exact ops only, so every width equals <see cref="GateReference"/> bit for bit.
/// Apply runs on <see cref="ElementwiseDriver.Select{TOp}"/>; the TopK scan keeps its own loops (its
/// vector pre-filter compares against a threshold that moves as the selection fills).
/// </summary>
internal static class Gate
{
    /// <summary>Gates one token row; returns the number of active neurons written to idx/h.</summary>
    /// <param name="jumpRelu">True: emit z (JumpReLU, the bias is a pure firing threshold); false: emit y = z + b (ReLU).</param>
    /// <param name="z">[M] pre-activations without bias.</param>
    /// <param name="b">[M] biases.</param>
    /// <param name="fireCount">[M] incremented where y &gt; 0.</param>
    /// <param name="maxY">[M] running maximum of y.</param>
    /// <param name="idx">[≥M] active neuron indices out.</param>
    /// <param name="h">[≥M] active values out (z for JumpReLU, y for ReLU).</param>
    public static int Apply(ReadOnlySpan<float> z, ReadOnlySpan<float> b, bool jumpRelu,
        Span<int> fireCount, Span<float> maxY, Span<int> idx, Span<float> h, KernelSet set)
    {
        int n = z.Length;
        if (b.Length < n || fireCount.Length < n || maxY.Length < n || idx.Length < n || h.Length < n)
            throw new ArgumentException("Gate: buffer shorter than the row.");
        return jumpRelu
            ? ElementwiseDriver.Select<GateOperator<JumpReluForm>>(z, b, maxY, fireCount, idx, h, set)
            : ElementwiseDriver.Select<GateOperator<ReluForm>>(z, b, maxY, fireCount, idx, h, set);
    }

    /// <summary>
    /// TopK selection for one token row: the k largest y = z + b that are &gt; 0 (ties keep the lower
    /// index), emitted in ascending index order with h = y. Counts and max y are updated as in Apply,
    /// except that "fired" means "selected". A vector pre-filter skips chunks below the current k-th
    /// value; the survivors go through the same scalar insertion as the twin, so results are identical.
    /// </summary>
    /// <param name="heapIdx">[k] scratch.</param>
    /// <param name="heapVal">[k] scratch.</param>
    public static int TopK(ReadOnlySpan<float> z, ReadOnlySpan<float> b, int k,
        Span<int> fireCount, Span<float> maxY, Span<int> idx, Span<float> h,
        Span<int> heapIdx, Span<float> heapVal, KernelSet set)
    {
        if (k <= 0 || heapIdx.Length < k || heapVal.Length < k || idx.Length < k || h.Length < k)
            throw new ArgumentException("TopK: k must be positive and the scratch/out spans at least k long.");
        var sel = new TopKSelector(k, heapIdx, heapVal);
        Scan(z, b, maxY, 0, ref sel, set);
        return sel.Emit(fireCount, idx, h);
    }

    /// <summary>
    /// The TopK scan: y = z + b offered to sel as neuron indexBase + i, max y updated. Split out so
    /// the fused encoder can run it block by block with a selector whose state persists between
    /// blocks of the same token (offers must still come in ascending index order).
    /// </summary>
    internal static void Scan(ReadOnlySpan<float> z, ReadOnlySpan<float> b, Span<float> maxY, int indexBase,
        ref TopKSelector sel, KernelSet set)
    {
        int n = z.Length;
        if (b.Length < n || maxY.Length < n) throw new ArgumentException("TopK: buffer shorter than the row.");
        ref float rz = ref MemoryMarshal.GetReference(z);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rmax = ref MemoryMarshal.GetReference(maxY);
        int i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i <= n - 16; i += 16)
            {
                var yi = Vector512.LoadUnsafe(ref rz, (nuint)i) + Vector512.LoadUnsafe(ref rb, (nuint)i);
                Vector512.Max(Vector512.LoadUnsafe(ref rmax, (nuint)i), yi).StoreUnsafe(ref rmax, (nuint)i);
                ulong bits = Vector512.GreaterThan(yi, Vector512.Create(sel.Threshold)).ExtractMostSignificantBits();
                while (bits != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(bits);
                    sel.Offer(indexBase + i + lane, yi.GetElement(lane));
                    bits &= bits - 1;
                }
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i <= n - 8; i += 8)
            {
                var yi = Vector256.LoadUnsafe(ref rz, (nuint)i) + Vector256.LoadUnsafe(ref rb, (nuint)i);
                Vector256.Max(Vector256.LoadUnsafe(ref rmax, (nuint)i), yi).StoreUnsafe(ref rmax, (nuint)i);
                uint bits = Vector256.GreaterThan(yi, Vector256.Create(sel.Threshold)).ExtractMostSignificantBits();
                while (bits != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(bits);
                    sel.Offer(indexBase + i + lane, yi.GetElement(lane));
                    bits &= bits - 1;
                }
            }
        }
        for (; i < n; i++)
        {
            float y = Unsafe.Add(ref rz, i) + Unsafe.Add(ref rb, i);
            Unsafe.Add(ref rmax, i) = MathF.Max(Unsafe.Add(ref rmax, i), y);
            sel.Offer(indexBase + i, y);
        }
    }
}

/// <summary>What a threshold gate emits for a firing neuron: z (JumpReLU) or y = z + b (ReLU).</summary>
internal interface IGateForm
{
    static abstract bool EmitsZ { get; }
}

/// <summary>JumpReLU: h = z where z + b &gt; 0 (the bias is only a firing threshold).</summary>
internal readonly struct JumpReluForm : IGateForm
{
    public static bool EmitsZ => true;
}

/// <summary>ReLU: h = y = z + b where y &gt; 0.</summary>
internal readonly struct ReluForm : IGateForm
{
    public static bool EmitsZ => false;
}

/// <summary>
/// The threshold gate for <see cref="ElementwiseDriver.Select{TOp}"/>: x = z, y = b, state = max y;
/// fires where z + b &gt; 0 and emits z or y as <typeparamref name="TForm"/> says (a constant the JIT
/// folds, so each form compiles to the one-line difference). Same operations as <see cref="GateReference.One"/>.
/// </summary>
internal readonly struct GateOperator<TForm> : ISelectOperator where TForm : struct, IGateForm
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Invoke(float z, float b, ref float maxY, out bool fire)
    {
        float y = z + b;
        maxY = MathF.Max(maxY, y);
        fire = y > 0f;
        return TForm.EmitsZ ? z : y;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Invoke(Vector256<float> z, Vector256<float> b, ref Vector256<float> maxY, out Vector256<float> fire)
    {
        var y = z + b;
        maxY = Vector256.Max(maxY, y);
        fire = Vector256.GreaterThan(y, Vector256<float>.Zero);
        return TForm.EmitsZ ? z : y;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Invoke(Vector512<float> z, Vector512<float> b, ref Vector512<float> maxY, out Vector512<float> fire)
    {
        var y = z + b;
        maxY = Vector512.Max(maxY, y);
        fire = Vector512.GreaterThan(y, Vector512<float>.Zero);
        return TForm.EmitsZ ? z : y;
    }
}

/// <summary>
/// Keeps the k largest positive values offered, ties resolved towards the earlier offer (offers come
/// in ascending index order). k is small (tens), so a flat array with a tracked minimum beats a heap.
/// </summary>
internal ref struct TopKSelector
{
    readonly Span<int> _idx;
    readonly Span<float> _val;
    readonly int _k;
    int _count;
    int _minPos;

    public TopKSelector(int k, Span<int> idx, Span<float> val) : this(k, idx, val, 0, 0)
    {
    }

    /// <summary>Resumes a selection saved from <see cref="Count"/> and <see cref="MinPos"/>.</summary>
    public TopKSelector(int k, Span<int> idx, Span<float> val, int count, int minPos)
    {
        _k = k; _idx = idx; _val = val; _count = count; _minPos = minPos;
    }

    public readonly int Count => _count;
    public readonly int MinPos => _minPos;

    /// <summary>A value must exceed this to enter: 0 until full, then the current k-th largest.</summary>
    public readonly float Threshold => _count < _k ? 0f : _val[_minPos];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Offer(int index, float y)
    {
        if (!(y > Threshold)) return;
        if (_count < _k)
        {
            _idx[_count] = index; _val[_count] = y; _count++;
            if (_count == _k) FindMin();
            return;
        }
        _idx[_minPos] = index; _val[_minPos] = y;
        FindMin();
    }

    void FindMin()
    {
        // Among equal minima evict the latest index, so earlier indices win ties.
        int p = 0;
        for (int j = 1; j < _count; j++)
            if (_val[j] < _val[p] || (_val[j] == _val[p] && _idx[j] > _idx[p])) p = j;
        _minPos = p;
    }

    /// <summary>Writes the selection sorted by index; counts it as fired.</summary>
    public readonly int Emit(Span<int> fireCount, Span<int> idx, Span<float> h)
    {
        Emit(idx, h);
        for (int j = 0; j < _count; j++) fireCount[idx[j]]++;
        return _count;
    }

    /// <summary>Writes the selection sorted by index without counting it (AuxK's dead-latent selection does not fire).</summary>
    public readonly int Emit(Span<int> idx, Span<float> h)
    {
        for (int j = 0; j < _count; j++) { idx[j] = _idx[j]; h[j] = _val[j]; }
        for (int j = 1; j < _count; j++)
        {
            int ki = idx[j]; float kv = h[j]; int p = j - 1;
            while (p >= 0 && idx[p] > ki) { idx[p + 1] = idx[p]; h[p + 1] = h[p]; p--; }
            idx[p + 1] = ki; h[p + 1] = kv;
        }
        return _count;
    }
}

/// <summary>Scalar twin of <see cref="Gate"/>.</summary>
internal static class GateReference
{
    public static int Apply(ReadOnlySpan<float> z, ReadOnlySpan<float> b, bool jumpRelu,
        Span<int> fireCount, Span<float> maxY, Span<int> idx, Span<float> h)
    {
        int count = 0;
        for (int i = 0; i < z.Length; i++)
            count = One(i, z[i], b[i], jumpRelu, ref fireCount[i], ref maxY[i], idx, h, count);
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int One(int i, float z, float b, bool jump, ref int fireCount, ref float maxY, Span<int> idx, Span<float> h, int count)
    {
        float y = z + b;
        maxY = MathF.Max(maxY, y);
        if (y > 0f)
        {
            fireCount++;
            idx[count] = i;
            h[count++] = jump ? z : y;
        }
        return count;
    }

    public static int TopK(ReadOnlySpan<float> z, ReadOnlySpan<float> b, int k,
        Span<int> fireCount, Span<float> maxY, Span<int> idx, Span<float> h)
    {
        var sel = new TopKSelector(k, new int[k], new float[k]);
        for (int i = 0; i < z.Length; i++)
        {
            float y = z[i] + b[i];
            maxY[i] = MathF.Max(maxY[i], y);
            sel.Offer(i, y);
        }
        return sel.Emit(fireCount, idx, h);
    }
}
