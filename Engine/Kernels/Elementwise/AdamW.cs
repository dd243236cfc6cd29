using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>Hyper-parameters and bias corrections of one AdamW step (Loshchilov and Hutter, decoupled decay).</summary>
internal readonly record struct AdamWStep(float LearningRate, float Beta1, float Beta2, float Epsilon, float WeightDecay, long Step)
{
    /// <summary>1 / (1 - beta1^t), 1 / (1 - beta2^t): Adam's bias corrections, computed in double once per step.</summary>
    public float Correction1 => (float)(1.0 / (1.0 - Math.Pow(Beta1, Step)));
    public float Correction2 => (float)(1.0 / (1.0 - Math.Pow(Beta2, Step)));
}

/// <summary>
/// AdamW over a flat parameter buffer: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g²;
/// p -= lr (m̂ / (sqrt(v̂) + eps) + wd p). Element-wise with no FMA contraction in any width, so
/// every SIMD path equals <see cref="AdamWReference"/> bit for bit. Runs on
/// <see cref="ElementwiseDriver.Update{TOp, TArgs}"/> with g as the input and p, m, v as the states.
/// </summary>
internal static class AdamW
{
    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWStep s) =>
        Update(p, g, m, v, s, KernelSelector.Current);

    public static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in AdamWStep s, KernelSet set)
    {
        int n = p.Length;
        if (g.Length != n || m.Length != n || v.Length != n) throw new ArgumentException("AdamW: buffer lengths differ.");
        ElementwiseDriver.Update<AdamWOperator, AdamWCoefficients>(new AdamWCoefficients(s), g, p, m, v, set);
    }
}

/// <summary>One step's scalars, with 1 - beta and the bias corrections computed once per call.</summary>
internal readonly struct AdamWCoefficients(in AdamWStep s)
{
    public readonly float B1 = s.Beta1, OneMinusB1 = 1f - s.Beta1, B2 = s.Beta2, OneMinusB2 = 1f - s.Beta2;
    public readonly float C1 = s.Correction1, C2 = s.Correction2, Lr = s.LearningRate, Eps = s.Epsilon, Wd = s.WeightDecay;
}

/// <summary>x = g; (s0, s1, s2) = (p, m, v). The same operations in the same order as <see cref="AdamWReference.UpdateOne"/>.</summary>
internal readonly struct AdamWOperator : IUpdateOperator<AdamWCoefficients>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Invoke(AdamWCoefficients a, float g, ref float p, ref float m, ref float v) =>
        AdamWReference.UpdateOne(ref p, g, ref m, ref v, a.B1, a.OneMinusB1, a.B2, a.OneMinusB2, a.C1, a.C2, a.Lr, a.Eps, a.Wd);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Invoke(AdamWCoefficients a, Vector256<float> g, ref Vector256<float> p, ref Vector256<float> m, ref Vector256<float> v)
    {
        m = Vector256.Create(a.B1) * m + Vector256.Create(a.OneMinusB1) * g;
        v = Vector256.Create(a.B2) * v + Vector256.Create(a.OneMinusB2) * (g * g);
        var upd = (m * Vector256.Create(a.C1)) / (Vector256.Sqrt(v * Vector256.Create(a.C2)) + Vector256.Create(a.Eps)) + Vector256.Create(a.Wd) * p;
        p -= Vector256.Create(a.Lr) * upd;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Invoke(AdamWCoefficients a, Vector512<float> g, ref Vector512<float> p, ref Vector512<float> m, ref Vector512<float> v)
    {
        m = Vector512.Create(a.B1) * m + Vector512.Create(a.OneMinusB1) * g;
        v = Vector512.Create(a.B2) * v + Vector512.Create(a.OneMinusB2) * (g * g);
        var upd = (m * Vector512.Create(a.C1)) / (Vector512.Sqrt(v * Vector512.Create(a.C2)) + Vector512.Create(a.Eps)) + Vector512.Create(a.Wd) * p;
        p -= Vector512.Create(a.Lr) * upd;
    }
}

/// <summary>Scalar twin of <see cref="AdamW"/>.</summary>
internal static class AdamWReference
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
