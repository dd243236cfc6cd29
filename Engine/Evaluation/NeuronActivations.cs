using GbaEngine.Encoders;
using GbaEngine.Model;

namespace GbaEngine.Evaluation;

/// <summary>
/// Each neuron's activations f = a·h over a token set (MP: the pursuit coefficient itself): the largest, the mean and
/// the standard deviation over every token (zeros included). MCS ranks neurons by these: the paper by the largest
/// activation, and a Z-score (max − mean) / std that asks how far a neuron's peak stands out of its own activity.
/// </summary>
public sealed class NeuronActivations
{
    NeuronActivations(float[] max, double[] mean, double[] std) => (Max, Mean, Std) = (max, mean, std);

    /// <summary>[M] largest activation (0 for a neuron that never fired).</summary>
    public float[] Max { get; }
    /// <summary>[M] mean activation over the tokens.</summary>
    public double[] Mean { get; }
    /// <summary>[M] standard deviation over the tokens.</summary>
    public double[] Std { get; }

    /// <summary>(max − mean) / std per neuron; 0 where the neuron never fired.</summary>
    public float[] ZScores() => Max.Select((m, i) => Std[i] > 0 ? (float)((m - Mean[i]) / Std[i]) : 0f).ToArray();

    /// <summary>Encodes <paramref name="set"/> with <paramref name="sae"/> and gathers the statistics.</summary>
    public static NeuronActivations Measure(SparseAutoencoder sae, EvaluationSet set, int threads)
    {
        var collector = new Collector(sae.Neurons, sae.Architecture.Sparsity == SparsityMode.MatchingPursuit ? null : sae.Parameters.Scale.ToArray());
        using (var encoder = new ChunkedEncoder(sae, threads)) encoder.Encode(set.Tokens, set.Count, collector);
        int n = Math.Max(1, set.Count);
        var mean = new double[sae.Neurons];
        var std = new double[sae.Neurons];
        for (int m = 0; m < sae.Neurons; m++)
        {
            mean[m] = collector.Sum[m] / n;
            std[m] = Math.Sqrt(Math.Max(0, collector.SumSquares[m] / n - mean[m] * mean[m]));
        }
        return new NeuronActivations(collector.Max, mean, std);
    }

    sealed class Collector(int neurons, float[]? scale) : IEncodedChunkVisitor
    {
        public readonly float[] Max = new float[neurons];
        public readonly double[] Sum = new double[neurons], SumSquares = new double[neurons];

        public void Visit(int first, int rows, ReadOnlySpan<float> normalized, ReadOnlySpan<float> factors, SparseCode code)
        {
            for (int r = 0; r < code.Count; r++)
            {
                int k = code.Index[r];
                float f = (scale is null ? 1f : scale[k]) * code.H[r];
                Max[k] = MathF.Max(Max[k], f);
                Sum[k] += f;
                SumSquares[k] += (double)f * f;
            }
        }
    }
}
