namespace GbaEngine.Evaluation;

/// <summary>A score per neuron of run A by which MCS subsets are chosen (the top fraction by score).</summary>
public sealed record NeuronRanking(string Name, float[] Scores);

/// <summary>MCS fractions for one subset of run A's neurons.</summary>
public sealed record ConsistencyRow(string Subset, int Neurons, double Above06, double Above07, double Above08, double Above09);

/// <summary>
/// The paper's maximum-cosine-similarity consistency between two runs: for each neuron of run A, the
/// best cosine with any decoder direction of run B; reported as fractions above 0.6/0.7/0.8/0.9 over
/// all neurons and over the top 0.3% / 0.05% of A's neurons ranked by maximum activation.
/// </summary>
public static class Consistency
{
    /// <summary>MCS of A against B: for all of A's neurons and its top 0.3% / 0.05% by <paramref name="maxActivationA"/>, the fraction whose best decoder cosine with B exceeds 0.6, 0.7, 0.8 and 0.9.</summary>
    /// <param name="kernels">The kernel set of the cosine search (default: <see cref="Kernels.KernelSelector.Current"/>).</param>
    public static IReadOnlyList<ConsistencyRow> Compare(ReadOnlySpan<float> decoderA, int mA, ReadOnlySpan<float> decoderB, int mB,
        int d, int strideA, int strideB, ReadOnlySpan<float> maxActivationA, int threads = 1, Kernels.KernelSet? kernels = null)
    {
        var best = FeatureRecovery.BestCosines(decoderA, mA, decoderB, mB, d, strideB, threads, truthStride: strideA, kernels: kernels);

        var order = Enumerable.Range(0, mA).ToArray();
        if (maxActivationA.Length == mA)
        {
            var keys = maxActivationA.ToArray();
            Array.Sort(order, (x, y) => keys[y].CompareTo(keys[x]));
        }
        var rows = new List<ConsistencyRow> { Row("all", best, order, mA) };
        if (maxActivationA.Length == mA)
        {
            rows.Add(Row("top 0.3%", best, order, Math.Max(1, (int)Math.Ceiling(mA * 0.003))));
            rows.Add(Row("top 0.05%", best, order, Math.Max(1, (int)Math.Ceiling(mA * 0.0005))));
        }
        return rows;
    }

    /// <summary>
    /// MCS of A against B over all of A's neurons and, for every ranking, its top <paramref name="fractions"/> (subset
    /// "top 5% by NAME", at least one neuron each).
    /// </summary>
    /// <param name="kernels">The kernel set of the cosine search (default: <see cref="Kernels.KernelSelector.Current"/>).</param>
    public static IReadOnlyList<ConsistencyRow> Compare(ReadOnlySpan<float> decoderA, int mA, ReadOnlySpan<float> decoderB, int mB,
        int d, int strideA, int strideB, IReadOnlyList<NeuronRanking> rankings, IReadOnlyList<double> fractions, int threads = 1, Kernels.KernelSet? kernels = null)
    {
        var best = FeatureRecovery.BestCosines(decoderA, mA, decoderB, mB, d, strideB, threads, truthStride: strideA, kernels: kernels);
        var rows = new List<ConsistencyRow> { Row("all", best, Enumerable.Range(0, mA).ToArray(), mA) };
        foreach (var ranking in rankings)
        {
            if (ranking.Scores.Length != mA) throw new ArgumentException($"Ranking '{ranking.Name}' scores {ranking.Scores.Length} neurons; run A has {mA}.", nameof(rankings));
            var order = Enumerable.Range(0, mA).ToArray();
            var keys = ranking.Scores;
            Array.Sort(order, (x, y) => keys[y].CompareTo(keys[x]));
            foreach (double fraction in fractions)
                rows.Add(Row($"top {fraction * 100:0.##}% by {ranking.Name}", best, order, Math.Max(1, (int)Math.Ceiling(mA * fraction))));
        }
        return rows;
    }

    static ConsistencyRow Row(string name, float[] best, int[] order, int count)
    {
        double F(double tau) => (double)order.Take(count).Count(i => best[i] > tau) / count;
        return new ConsistencyRow(name, count, F(0.6), F(0.7), F(0.8), F(0.9));
    }
}
