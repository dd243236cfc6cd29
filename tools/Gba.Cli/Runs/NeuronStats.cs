using GbaEngine.Encoders;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Training;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// Per-neuron statistics of a trained SAE on the evaluation tokens: firing frequency, the largest and
/// the mean output f = a·h when firing, and each neuron's <see cref="TopCount"/> strongest tokens
/// (evaluation-row index and activation). One encoder pass; what `compare` ranks neurons by and what the
/// report plots.
/// </summary>
public sealed class NeuronStats
{
    public const int TopCount = 8;

    NeuronStats(int neurons, long tokens)
    {
        Tokens = tokens;
        Fires = new long[neurons];
        MaxActivation = new float[neurons];
        SumActivation = new double[neurons];
        TopRow = new int[neurons * TopCount];
        TopValue = new float[neurons * TopCount];
        Array.Fill(TopRow, -1);
        Array.Fill(TopValue, float.NegativeInfinity);
    }

    public long Tokens { get; }
    public long[] Fires { get; }
    public float[] MaxActivation { get; }
    public double[] SumActivation { get; }
    /// <summary>[M × TopCount] evaluation rows of each neuron's strongest activations, strongest first (−1: none).</summary>
    public int[] TopRow { get; }
    public float[] TopValue { get; }

    public double Frequency(int m) => Tokens == 0 ? 0 : (double)Fires[m] / Tokens;

    /// <summary>One pass of the model's own encoder (matching pursuit for an MP-SAE) over the set.</summary>
    public static NeuronStats Compute(SparseAutoencoder sae, EvaluationSet set, int threads)
    {
        var s = new NeuronStats(sae.Neurons, set.Count);
        using var encoder = new ChunkedEncoder(sae, threads);
        encoder.Encode(set.Tokens, set.Count, new Collector(s, sae.Parameters.Scale.ToArray()));
        return s;
    }

    sealed class Collector(NeuronStats s, float[] scale) : IEncodedChunkVisitor
    {
        public void Visit(int first, int rows, ReadOnlySpan<float> normalized, ReadOnlySpan<float> factors, SparseCode code)
        {
            for (int t = 0; t < rows; t++)
            {
                var idx = code.Indices(t);
                var h = code.Values(t);
                for (int i = 0; i < idx.Length; i++)
                {
                    int k = idx[i];
                    // Activations on the original scale: x̂ = Σ f w / s, so f/s is what a unit decoder row carries.
                    float f = scale[k] * h[i] * factors[t];
                    s.Fires[k]++;
                    s.SumActivation[k] += f;
                    if (f > s.MaxActivation[k]) s.MaxActivation[k] = f;
                    s.Offer(k, first + t, f);
                }
            }
        }
    }

    /// <summary>Keeps the neuron's top list sorted descending (insertion into a list of TopCount).</summary>
    void Offer(int neuron, int row, float value)
    {
        int o = neuron * TopCount;
        if (value <= TopValue[o + TopCount - 1]) return;
        int i = TopCount - 1;
        while (i > 0 && TopValue[o + i - 1] < value)
        {
            TopValue[o + i] = TopValue[o + i - 1];
            TopRow[o + i] = TopRow[o + i - 1];
            i--;
        }
        TopValue[o + i] = value;
        TopRow[o + i] = row;
    }
}
