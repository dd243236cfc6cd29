namespace GbaEngine.Model;

/// <summary>
/// Per-neuron running statistics gathered by the encoder in the same pass that computes the
/// pre-activations: how many tokens fired each neuron, and the largest pre-activation y = z + b.
/// GBA's bias rule reads these; evaluation reads them for frequencies and dead neurons.
/// </summary>
public sealed class FiringStatistics
{
    /// <summary>Empty statistics for <paramref name="neurons"/> neurons.</summary>
    public FiringStatistics(int neurons)
    {
        FireCount = new long[neurons];
        MaxY = new float[neurons];
        Reset();
    }

    /// <summary>[M] tokens on which each neuron fired.</summary>
    public long[] FireCount { get; }
    /// <summary>[M] largest pre-activation y = z + b seen per neuron.</summary>
    public float[] MaxY { get; }
    /// <summary>Tokens counted.</summary>
    public long Tokens { get; private set; }

    /// <summary>Starts a new buffer: counts zero, maxima −∞.</summary>
    public void Reset()
    {
        Array.Clear(FireCount);
        Array.Fill(MaxY, float.NegativeInfinity);
        Tokens = 0;
    }

    /// <summary>Adds one worker's partial counts (order does not matter: integer sums and max).</summary>
    internal void Merge(ReadOnlySpan<int> counts, ReadOnlySpan<float> maxY)
    {
        for (int m = 0; m < FireCount.Length; m++)
        {
            FireCount[m] += counts[m];
            MaxY[m] = MathF.Max(MaxY[m], maxY[m]);
        }
    }

    internal void AddTokens(long tokens) => Tokens += tokens;

    /// <summary>Restores a saved state (checkpoints).</summary>
    public void Restore(ReadOnlySpan<long> counts, ReadOnlySpan<float> maxY, long tokens)
    {
        counts.CopyTo(FireCount);
        maxY.CopyTo(MaxY);
        Tokens = tokens;
    }

    /// <summary>Fraction of tokens on which neuron m fired.</summary>
    public double Frequency(int m) => Tokens == 0 ? 0 : (double)FireCount[m] / Tokens;
}
