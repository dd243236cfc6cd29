using GbaEngine.Kernels.Elementwise;
using GbaEngine.Threading;

namespace GbaEngine.Evaluation;

/// <summary>
/// Feature recovery (spec/gba.md §1): for each true feature v_i, the best cosine with any learned
/// decoder direction w_m; FRR(τ) is the fraction with best cosine &gt; τ. Also the paper's MCS
/// consistency between two runs. Both are max-cosine searches over all pairs (n·M·d).
/// </summary>
public static class FeatureRecovery
{
    /// <summary>Best |cos| is not used: a feature is recovered only by a direction pointing the same way.</summary>
    /// <param name="truth">[n × truthStride] true features (first d columns used).</param>
    /// <param name="dictionary">[M × stride] learned directions (first d columns used).</param>
    /// <param name="kernels">The kernel set of the dot products (default: <see cref="Kernels.KernelSelector.Current"/>); the
    /// evaluator passes the model's, so a model's numbers do not depend on the process default.</param>
    public static float[] BestCosines(ReadOnlySpan<float> truth, int n, ReadOnlySpan<float> dictionary, int m, int d, int stride, int threads = 1,
        int truthStride = 0, Kernels.KernelSet? kernels = null)
    {
        var set = kernels ?? Kernels.KernelSelector.Current;
        var t = UnitRows(truth, n, d, truthStride == 0 ? d : truthStride);
        var w = UnitRows(dictionary, m, d, stride);
        var best = new float[n];
        FixedPartition.Run(n, threads, (_, s, e) =>
        {
            for (int i = s; i < e; i++)
            {
                var vi = t.AsSpan(i * d, d);
                float b = float.NegativeInfinity;
                for (int k = 0; k < m; k++) b = MathF.Max(b, Blas1.Dot(vi, w.AsSpan(k * d, d), set));
                best[i] = b;
            }
        });
        return best;
    }

    /// <summary>Fraction of entries strictly above τ.</summary>
    public static double Rate(ReadOnlySpan<float> bestCosines, double tau)
    {
        if (bestCosines.IsEmpty) return 0;
        int c = 0;
        foreach (var x in bestCosines) if (x > tau) c++;
        return (double)c / bestCosines.Length;
    }

    static float[] UnitRows(ReadOnlySpan<float> src, int rows, int d, int stride)
    {
        var dst = new float[(long)rows * d];
        for (int i = 0; i < rows; i++)
        {
            var row = dst.AsSpan(i * d, d);
            src.Slice(i * stride, d).CopyTo(row);
            double n2 = 0;
            foreach (var x in row) n2 += (double)x * x;
            if (n2 > 0) Blas1Reference.Scale((float)(1 / Math.Sqrt(n2)), row);
        }
        return dst;
    }
}
