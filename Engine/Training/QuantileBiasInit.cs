using GbaEngine.Model;

namespace GbaEngine.Training;

/// <summary>
/// Warm start for the biases (the paper is silent; see docs/cli.md "Defaults and why"): b_m = −(1 − p_m) quantile
/// of neuron m's own pre-activations z_m over the first tokens, clamped to [−1, 0], so that each
/// neuron starts firing at about its target frequency. With b ∈ [−1, 0] only the part of the
/// distribution in [0, 1] matters, so a 256-bin histogram of z ∈ (0, 1] plus an overflow count per
/// neuron suffices: memory M×257 counts, independent of the number of tokens.
/// </summary>
internal sealed class QuantileBiasInit
{
    public const int Bins = 256;
    readonly long[] _hist;   // [M × (Bins + 1)]: bins over (0, 1], last slot counts z > 1
    readonly int _neurons;

    public QuantileBiasInit(int neurons)
    {
        _neurons = neurons;
        _hist = new long[(long)neurons * (Bins + 1)];
    }

    public long Tokens { get; private set; }

    /// <summary>Adds a batch's positive pre-activations: a code computed with b = 0, where H = z for every z &gt; 0.</summary>
    public void Add(SparseCode positiveZ)
    {
        for (int r = 0; r < positiveZ.Count; r++)
        {
            float z = positiveZ.H[r];
            int bin = z > 1f ? Bins : Math.Min((int)(z * Bins), Bins - 1);
            _hist[(long)positiveZ.Index[r] * (Bins + 1) + bin]++;
        }
        Tokens += positiveZ.Tokens;
    }

    /// <summary>The threshold t with a fraction p of tokens above it, clamped to [0, 1].</summary>
    public double Threshold(int m, double p)
    {
        double target = p * Tokens;
        long offset = (long)m * (Bins + 1);
        double above = _hist[offset + Bins];
        if (above >= target) return 1.0;
        for (int bin = Bins - 1; bin >= 0; bin--)
        {
            long c = _hist[offset + bin];
            if (above + c >= target)
            {
                // Linear interpolation inside the bin: the upper (target - above) of its c tokens lie above t.
                double frac = (target - above) / c;
                return Math.Clamp((bin + 1 - frac) / Bins, 0.0, 1.0);
            }
            above += c;
        }
        return 0.0;
    }

    /// <summary>Sets b_m = −threshold(m, p_m) for every neuron.</summary>
    public void Apply(Span<float> bias, Func<int, double> targetFrequency)
    {
        if (Tokens == 0) throw new InvalidOperationException("Quantile warm start has seen no tokens.");
        for (int m = 0; m < _neurons; m++) bias[m] = (float)-Threshold(m, targetFrequency(m));
    }
}
