// FMA-throughput probe: the machine's fp32 peak in GFLOP/s. Each thread runs 16 independent FMA
// chains on registers (Vector512 or Vector256): with 2 FMA ports and a 4-cycle latency, 8 chains
// are the minimum to keep both ports busy, so 16 leaves slack. FLOP count = iterations x 16 chains
// x lanes x 2 (a fused multiply-add counts as two). All threads start together behind a barrier;
// the rate is total FLOP over wall time from the start to the last thread's end.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GbaEngine.Benchmarks.Gemm;

internal static class FmaPeak
{
    public const int Chains = 16;

    /// <summary>GFLOP/s of `threads` threads running the probe for `iterations` loop trips each, and the wall seconds.</summary>
    public static (double Gflops, double Seconds) Measure(int width, int threads, long iterations)
    {
        using var start = new Barrier(threads + 1);
        var sink = new float[threads];
        var workers = new Thread[threads];
        for (int t = 0; t < threads; t++)
        {
            int id = t;
            workers[t] = new Thread(() =>
            {
                start.SignalAndWait();
                sink[id] = width == 512 ? Run512(iterations) : Run256(iterations);
            });
            workers[t].Start();
        }
        start.SignalAndWait();
        var sw = Stopwatch.StartNew();
        foreach (var w in workers) w.Join();
        var seconds = sw.Elapsed.TotalSeconds;
        GC.KeepAlive(sink);
        double lanes = width / 32;
        return (threads * iterations * Chains * lanes * 2 / seconds / 1e9, seconds);
    }

    /// <summary>Loop trips that take roughly `seconds` on one core at ~160 GFLOP/s.</summary>
    public static long IterationsFor(int width, double seconds) => (long)(seconds * 160e9 / (Chains * (width / 32) * 2));

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Run512(long iterations)
    {
        var m = Vector512.Create(0.999999f);
        var add = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
            c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, m, add); c1 = Avx512F.FusedMultiplyAdd(c1, m, add);
            c2 = Avx512F.FusedMultiplyAdd(c2, m, add); c3 = Avx512F.FusedMultiplyAdd(c3, m, add);
            c4 = Avx512F.FusedMultiplyAdd(c4, m, add); c5 = Avx512F.FusedMultiplyAdd(c5, m, add);
            c6 = Avx512F.FusedMultiplyAdd(c6, m, add); c7 = Avx512F.FusedMultiplyAdd(c7, m, add);
            c8 = Avx512F.FusedMultiplyAdd(c8, m, add); c9 = Avx512F.FusedMultiplyAdd(c9, m, add);
            c10 = Avx512F.FusedMultiplyAdd(c10, m, add); c11 = Avx512F.FusedMultiplyAdd(c11, m, add);
            c12 = Avx512F.FusedMultiplyAdd(c12, m, add); c13 = Avx512F.FusedMultiplyAdd(c13, m, add);
            c14 = Avx512F.FusedMultiplyAdd(c14, m, add); c15 = Avx512F.FusedMultiplyAdd(c15, m, add);
        }
        var s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
        return Vector512.Sum(s);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static float Run256(long iterations)
    {
        var m = Vector256.Create(0.999999f);
        var add = Vector256.Create(1e-7f);
        Vector256<float> c0 = Vector256.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
            c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, m, add); c1 = Fma.MultiplyAdd(c1, m, add);
            c2 = Fma.MultiplyAdd(c2, m, add); c3 = Fma.MultiplyAdd(c3, m, add);
            c4 = Fma.MultiplyAdd(c4, m, add); c5 = Fma.MultiplyAdd(c5, m, add);
            c6 = Fma.MultiplyAdd(c6, m, add); c7 = Fma.MultiplyAdd(c7, m, add);
            c8 = Fma.MultiplyAdd(c8, m, add); c9 = Fma.MultiplyAdd(c9, m, add);
            c10 = Fma.MultiplyAdd(c10, m, add); c11 = Fma.MultiplyAdd(c11, m, add);
            c12 = Fma.MultiplyAdd(c12, m, add); c13 = Fma.MultiplyAdd(c13, m, add);
            c14 = Fma.MultiplyAdd(c14, m, add); c15 = Fma.MultiplyAdd(c15, m, add);
        }
        var s = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11)) + ((c12 + c13) + (c14 + c15));
        return Vector256.Sum(s);
    }
}
