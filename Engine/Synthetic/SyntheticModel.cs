using GbaEngine.Rng;
namespace GbaEngine.Synthetic;

/// <summary>
/// The ground truth of one synthetic problem: unit-norm Gaussian features V [n × d] and their
/// occurrence frequencies, all derived from a seed. Tokens are drawn by <see cref="SyntheticStream"/>
/// on the fly; nothing proportional to the number of tokens is ever held.
/// </summary>
public sealed class SyntheticModel
{
    /// <summary>Draws the true features (unit Gaussian directions) and frequencies of <paramref name="spec"/> from <paramref name="seed"/>.</summary>
    public SyntheticModel(SyntheticSpec spec, ulong seed)
    {
        spec.Validate();
        Spec = spec;
        Seed = seed;
        int n = spec.Features, d = spec.Dim;
        Features = new float[(long)n * d];
        var rng = Xoshiro256.Derive(seed, 0xFEA7);
        for (int i = 0; i < n; i++)
        {
            var row = Features.AsSpan(i * d, d);
            double norm = 0;
            for (int j = 0; j < d; j++) { row[j] = (float)rng.NextGaussian(); norm += (double)row[j] * row[j]; }
            float inv = (float)(1.0 / Math.Sqrt(norm));
            for (int j = 0; j < d; j++) row[j] *= inv;
        }
        Frequencies = spec.Profile == FrequencyProfile.Uniform
            ? Enumerable.Repeat(spec.MeanSparsity / n, n).ToArray()
            : PowerLawFrequencies(n, spec.Sparsity, spec.Exponent);
    }

    /// <summary>The generator's settings.</summary>
    public SyntheticSpec Spec { get; }
    /// <summary>The seed the features were drawn from.</summary>
    public ulong Seed { get; }

    /// <summary>[n × d] true features, unit rows.</summary>
    public float[] Features { get; }

    /// <summary>Occurrence frequency f_i of each feature (the probability that a token contains it).</summary>
    public double[] Frequencies { get; }

    /// <summary>True feature i [d].</summary>
    public ReadOnlySpan<float> Feature(int i) => Features.AsSpan(i * Spec.Dim, Spec.Dim);

    /// <summary>f_i = min(1, c·(i+1)^−α) with c chosen by bisection so that Σ f_i = s.</summary>
    static double[] PowerLawFrequencies(int n, int s, double alpha)
    {
        double lo = 0, hi = 1;
        while (Sum(hi) < s) hi *= 2;
        for (int it = 0; it < 200; it++)
        {
            double mid = 0.5 * (lo + hi);
            if (Sum(mid) < s) lo = mid; else hi = mid;
        }
        var f = new double[n];
        for (int i = 0; i < n; i++) f[i] = Math.Min(1.0, hi * Math.Pow(i + 1, -alpha));
        return f;

        double Sum(double c)
        {
            double t = 0;
            for (int i = 0; i < n; i++) t += Math.Min(1.0, c * Math.Pow(i + 1, -alpha));
            return t;
        }
    }

    /// <summary>A stream of tokens from this model (seed stream 1 = training, 2 = evaluation, ...).</summary>
    public SyntheticStream OpenStream(ulong stream) => new(this, Xoshiro256.Derive(Seed, 0x5EED + stream));
}
