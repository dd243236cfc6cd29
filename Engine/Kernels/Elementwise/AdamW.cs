using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>Hyper-parameters and bias corrections of one AdamW step (Loshchilov and Hutter, decoupled decay).</summary>
public readonly record struct AdamWStep(float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, long Step)
{
    /// <summary>1 / (1 - beta1^t), 1 / (1 - beta2^t): Adam's bias corrections, computed in double once per step.</summary>
    public float Correction1 => (float)(1.0 / (1.0 - Math.Pow(Beta1, Step)));
    public float Correction2 => (float)(1.0 / (1.0 - Math.Pow(Beta2, Step)));
}

/// <summary>
/// AdamW over a flat parameter buffer: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
/// p -= lr (m̂ / (sqrt(v̂) + eps) + wd p). Element-wise with no FMA contraction in any width, so
/// every SIMD path equals <see cref="AdamWReference"/> bit for bit.
/// </summary>
public static class AdamW
{
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWStep s) =>
        Update(p, g, m, v, s, KernelSelector.Current);

    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWStep s, KernelSet set)
    {
        int n = p.Length;
        if (g.Length != n || m.Length != n || v.Length != n) throw new ArgumentException("AdamW: buffer lengths differ.");
        ref float rp = ref MemoryMarshal.GetReference(p);
        ref float rg = ref MemoryMarshal.GetReference(g);
        ref float rm = ref MemoryMarshal.GetReference(m);
        ref float rv = ref MemoryMarshal.GetReference(v);
        float b1 = s.Beta1, b2 = s.Beta2, c1 = s.Correction1, c2 = s.Correction2, lr = s.LearningRate, eps = s.Epsilon, wd = s.WeightDecay;
        float ob1 = 1f - b1, ob2 = 1f - b2;
        int i = 0;
        if (set == KernelSet.Avx512)
        {
            for (; i <= n - 16; i += 16)
            {
                var gi = Vector512.LoadUnsafe(ref rg, (nuint)i);
                var mi = Vector512.Create(b1) * Vector512.LoadUnsafe(ref rm, (nuint)i) + Vector512.Create(ob1) * gi;
                var vi = Vector512.Create(b2) * Vector512.LoadUnsafe(ref rv, (nuint)i) + Vector512.Create(ob2) * (gi * gi);
                var pi = Vector512.LoadUnsafe(ref rp, (nuint)i);
                var upd = (mi * Vector512.Create(c1)) / (Vector512.Sqrt(vi * Vector512.Create(c2)) + Vector512.Create(eps)) + Vector512.Create(wd) * pi;
                (pi - Vector512.Create(lr) * upd).StoreUnsafe(ref rp, (nuint)i);
                mi.StoreUnsafe(ref rm, (nuint)i);
                vi.StoreUnsafe(ref rv, (nuint)i);
            }
        }
        if (set >= KernelSet.Avx2)
        {
            for (; i <= n - 8; i += 8)
            {
                var gi = Vector256.LoadUnsafe(ref rg, (nuint)i);
                var mi = Vector256.Create(b1) * Vector256.LoadUnsafe(ref rm, (nuint)i) + Vector256.Create(ob1) * gi;
                var vi = Vector256.Create(b2) * Vector256.LoadUnsafe(ref rv, (nuint)i) + Vector256.Create(ob2) * (gi * gi);
                var pi = Vector256.LoadUnsafe(ref rp, (nuint)i);
                var upd = (mi * Vector256.Create(c1)) / (Vector256.Sqrt(vi * Vector256.Create(c2)) + Vector256.Create(eps)) + Vector256.Create(wd) * pi;
                (pi - Vector256.Create(lr) * upd).StoreUnsafe(ref rp, (nuint)i);
                mi.StoreUnsafe(ref rm, (nuint)i);
                vi.StoreUnsafe(ref rv, (nuint)i);
            }
        }
        for (; i < n; i++)
            AdamWReference.UpdateOne(ref Unsafe.Add(ref rp, i), Unsafe.Add(ref rg, i), ref Unsafe.Add(ref rm, i), ref Unsafe.Add(ref rv, i),
                b1, ob1, b2, ob2, c1, c2, lr, eps, wd);
    }
}

/// <summary>Scalar twin of <see cref="AdamW"/>.</summary>
public static class AdamWReference
{
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWStep s)
    {
        float b1 = s.Beta1, b2 = s.Beta2;
        for (int i = 0; i < p.Length; i++)
            UpdateOne(ref p[i], g[i], ref m[i], ref v[i], b1, 1f - b1, b2, 1f - b2, s.Correction1, s.Correction2, s.LearningRate, s.Epsilon, s.WeightDecay);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void UpdateOne(ref float p, float g, ref float m, ref float v,
        float b1, float ob1, float b2, float ob2, float c1, float c2, float lr, float eps, float wd)
    {
        // Written as separate multiplies and adds so that the JIT cannot contract to FMA: the
        // vector paths do the same, which is what makes them bit-identical to this twin.
        float mi = b1 * m + ob1 * g;
        float vi = b2 * v + ob2 * (g * g);
        float upd = (mi * c1) / (MathF.Sqrt(vi * c2) + eps) + wd * p;
        p -= lr * upd;
        m = mi;
        v = vi;
    }
}
