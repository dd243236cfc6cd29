// A kernel whose 256- and 512-bit paths differ only in the vector width is written once, generic over
// ISimdWidth<TVec>. The width types are structs with only static members, so the JIT compiles one
// specialised copy per width with every call inlined: the same code the hand-copied blocks gave.
// Each width keeps its own horizontal Sum, so a generic kernel gives the bits its hand-written
// predecessor gave on every kernel set.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Kernels;

/// <summary>The float vector operations of one SIMD width that the width-generic kernels use.</summary>
internal unsafe interface ISimdWidth<TVec> where TVec : struct
{
    /// <summary>Floats per vector.</summary>
    static abstract int Count { get; }
    static abstract TVec Zero { get; }
    static abstract TVec Load(float* p);
    static abstract void Store(TVec v, float* p);
    static abstract TVec Broadcast(float x);
    /// <summary>a·b + c, rounded once.</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);
    static abstract TVec Add(TVec a, TVec b);
    static abstract float Sum(TVec v);
}

/// <summary>AVX-512: 16 floats.</summary>
internal readonly unsafe struct Width512 : ISimdWidth<Vector512<float>>
{
    public static int Count => 16;
    public static Vector512<float> Zero => Vector512<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Broadcast(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Fma(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
}

/// <summary>AVX2 with FMA: 8 floats.</summary>
internal readonly unsafe struct Width256 : ISimdWidth<Vector256<float>>
{
    public static int Count => 8;
    public static Vector256<float> Zero => Vector256<float>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Broadcast(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.FusedMultiplyAdd(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
}
