namespace GbaEngine.Tests.Reference;

/// <summary>
/// SAELens 6's inference formulas in float64, written from its source (decoderesearch/SAELens,
/// sae_lens/saes/*.py), for checking what the engine exports against what SAELens computes on it.
/// Linked into the CLI tests too.
/// </summary>
public static class SaeLensReference
{
    /// <summary>
    /// SAELens' _encode_matching_pursuit with max_iterations = T, residual_threshold 0 and stop_on_duplicate_support
    /// false, written from its source in float64: sae_in = normalise(x) − b_dec; T times: i = argmax relu(r·W_decᵀ),
    /// v = relu(r·W_dec,i), acts_i += v, r −= v·W_dec,i.
    /// </summary>
    public static double[] MatchingPursuit(float[] wDec, float[] bDec, int d, int m, ReadOnlySpan<float> x, bool perToken, int steps)
    {
        double coeff = 1;
        if (perToken)
        {
            double n2 = 0;
            for (int j = 0; j < d; j++) n2 += (double)x[j] * x[j];
            coeff = Math.Sqrt(d) / Math.Sqrt(n2);
        }
        var r = new double[d];
        for (int j = 0; j < d; j++) r[j] = x[j] * coeff - bDec[j];
        var acts = new double[m];
        for (int s = 0; s < steps; s++)
        {
            int best = 0;
            double bestValue = double.NegativeInfinity;
            for (int n = 0; n < m; n++)
            {
                double c = 0;
                for (int j = 0; j < d; j++) c += r[j] * wDec[n * d + j];
                c = Math.Max(c, 0);
                if (c > bestValue) { bestValue = c; best = n; }     // torch.max: the first of equal maxima
            }
            double v = 0;
            for (int j = 0; j < d; j++) v += r[j] * wDec[best * d + j];
            v = Math.Max(v, 0);
            acts[best] += v;
            for (int j = 0; j < d; j++) r[j] -= v * wDec[best * d + j];
        }
        return acts;
    }
}
