// Operator contracts for the shared element-wise drivers (ElementwiseDriver, SumDriver).
//   - An operator is a struct with only static members: the drivers are generic over it, so each
//     (driver, operator) pair is its own specialised method with the operator inlined; mark every
//     Invoke [MethodImpl(AggressiveInlining)].
//   - The float, Vector256<float> and Vector512<float> overloads must compute the same IEEE
//     operations per element (same FMA use, same operand order), so that every kernel set gives the
//     same bits as the scalar twin for exact ops.
//   - TArgs carries an operator's scalar parameters (alpha, AdamW's coefficients); the driver passes
//     it through untouched. Operators broadcast from it inside Invoke; the JIT keeps the scalars in
//     registers and broadcasts each use (one vbroadcastss), as the hand-written loops before it did.
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels.Elementwise;

/// <summary>d[i] = f(x[i]).</summary>
internal interface IUnaryOperator<TArgs> where TArgs : struct
{
    static abstract float Invoke(TArgs args, float x);
    static abstract Vector256<float> Invoke(TArgs args, Vector256<float> x);
    static abstract Vector512<float> Invoke(TArgs args, Vector512<float> x);
}

/// <summary>d[i] = f(x[i], y[i]).</summary>
internal interface IBinaryOperator<TArgs> where TArgs : struct
{
    static abstract float Invoke(TArgs args, float x, float y);
    static abstract Vector256<float> Invoke(TArgs args, Vector256<float> x, Vector256<float> y);
    static abstract Vector512<float> Invoke(TArgs args, Vector512<float> x, Vector512<float> y);
}

/// <summary>(s0[i], s1[i], s2[i]) = f(x[i], s0[i], s1[i], s2[i]): one input, three read-write states.</summary>
internal interface IUpdateOperator<TArgs> where TArgs : struct
{
    static abstract void Invoke(TArgs args, float x, ref float s0, ref float s1, ref float s2);
    static abstract void Invoke(TArgs args, Vector256<float> x, ref Vector256<float> s0, ref Vector256<float> s1, ref Vector256<float> s2);
    static abstract void Invoke(TArgs args, Vector512<float> x, ref Vector512<float> s0, ref Vector512<float> s1, ref Vector512<float> s2);
}

/// <summary>
/// One step of a sum-like reduction: acc ⊕ term(x[i], y[i]). The driver owns the accumulators, their
/// zero start, the order they are combined in and the final horizontal sum.
/// </summary>
internal interface ISumOperator
{
    static abstract float Accumulate(float acc, float x, float y);
    static abstract Vector256<float> Accumulate(Vector256<float> acc, Vector256<float> x, Vector256<float> y);
    static abstract Vector512<float> Accumulate(Vector512<float> acc, Vector512<float> x, Vector512<float> y);
}

/// <summary>
/// A map with a filter: from x[i], y[i] and a read-write state s[i], decide whether element i is
/// kept and which value it emits. The driver counts kept elements per index and writes the kept
/// (index, value) pairs in ascending index order. The vector overloads return the kept mask as
/// all-ones / all-zeros lanes.
/// </summary>
internal interface ISelectOperator
{
    static abstract float Invoke(float x, float y, ref float state, out bool keep);
    static abstract Vector256<float> Invoke(Vector256<float> x, Vector256<float> y, ref Vector256<float> state, out Vector256<float> keep);
    static abstract Vector512<float> Invoke(Vector512<float> x, Vector512<float> y, ref Vector512<float> state, out Vector512<float> keep);
}
