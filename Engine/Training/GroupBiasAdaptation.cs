using GbaEngine.Collectives;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Rng;

namespace GbaEngine.Training;

/// <summary>What one bias update did (for logs and tests).</summary>
public readonly record struct BiasUpdateSummary(int Lowered, int Raised, int Unchanged, bool Skipped);

/// <summary>
/// Group Bias Adaptation (spec/gba.md §3; Algorithms 1-2 of Chen et al. 2025). Neurons are split at
/// random into K equal groups; group k has target activation frequency p_k, geometric from HTF down
/// to LTF. Every B buffered tokens: q_m = fires/tokens, r_m = max(max y_m, 0),
///   q_m &gt; p_k  → b_m = max(b_m − γ₋·r_m, −1)   (too active)
///   q_m &lt; ε    → b_m = min(b_m + γ₊·r̄_k, 0)    (dead; r̄_k = mean positive r_m in the group,
///                                                else over all neurons, else skip the update)
/// otherwise b_m is left alone: the TAF is an upper bound, not a target. BA is K = 1.
/// <see cref="BiasRule.Edge"/> changes the dead branch only: b_m = min(b_m − max y_m + γ₊·r̄_k, 0). A dead neuron's
/// largest pre-activation of the buffer is negative, and the paper's step of 1% of a typical peak takes tens of
/// updates (thousands of steps) to close the gap; lifting the bias by the gap makes the neuron fire again on its
/// most aligned tokens at the next step, which is where a neuron learns a single feature (docs/experiments.md).
/// </summary>
public sealed class GroupBiasAdaptation
{
    /// <summary>Splits <paramref name="neurons"/> neurons at random (from <paramref name="seed"/>) into one group per TAF.</summary>
    public GroupBiasAdaptation(int neurons, IReadOnlyList<double> tafs, ulong seed, double gammaPlus = 0.01,
        double gammaMinus = 0.01, double epsilon = 1e-6, BiasRule rule = BiasRule.Paper)
    {
        Rule = rule;
        if (tafs.Count < 1 || tafs.Count > neurons) throw new ArgumentException($"Need 1..M groups (got {tafs.Count} for M = {neurons}).");
        foreach (var p in tafs)
            if (!(p > 0 && p <= 1)) throw new ArgumentException($"Target frequencies must lie in (0, 1] (got {p}).");
        Tafs = tafs.ToArray();
        GroupOf = AssignGroups(neurons, tafs.Count, seed);
        GammaPlus = gammaPlus;
        GammaMinus = gammaMinus;
        Epsilon = epsilon;
        Assignment = new NeuronGroups(GroupOf, Tafs);
    }

    /// <summary>The split as the model vocabulary names it (for evaluation and export).</summary>
    public NeuronGroups Assignment { get; }

    /// <summary>p_k per group, group 0 the highest.</summary>
    public double[] Tafs { get; }
    /// <summary>Group index of every neuron.</summary>
    public int[] GroupOf { get; }
    /// <summary>γ₊, the step of a dead neuron's bias towards firing.</summary>
    public double GammaPlus { get; }
    /// <summary>γ₋, the step of a too-active neuron's bias away from it.</summary>
    public double GammaMinus { get; }
    /// <summary>ε, the buffered frequency below which a neuron counts as dead.</summary>
    public double Epsilon { get; }
    /// <summary>What the dead branch does.</summary>
    public BiasRule Rule { get; }
    /// <summary>K, the number of groups.</summary>
    public int Groups => Tafs.Length;

    /// <summary>The TAF of neuron m.</summary>
    public double TafOf(int m) => Tafs[GroupOf[m]];

    /// <summary>p_k = HTF·(LTF/HTF)^((k−1)/(K−1)), k = 1..K; a single group gets HTF.</summary>
    public static double[] Schedule(int groups, double htf, double ltf)
    {
        if (groups < 1) throw new ArgumentException($"Group count must be at least 1 (got {groups}).");
        if (!(htf > 0 && htf <= 1) || !(ltf > 0 && ltf <= htf))
            throw new ArgumentException($"Need 0 < LTF <= HTF <= 1 (got HTF = {htf}, LTF = {ltf}).");
        var p = new double[groups];
        for (int k = 0; k < groups; k++)
            p[k] = groups == 1 ? htf : htf * Math.Pow(ltf / htf, (double)k / (groups - 1));
        return p;
    }

    /// <summary>A seeded random split of M neurons into K groups whose sizes differ by at most one.</summary>
    public static int[] AssignGroups(int neurons, int groups, ulong seed)
    {
        var perm = new int[neurons];
        for (int i = 0; i < neurons; i++) perm[i] = i;
        var rng = Xoshiro256.Derive(seed, 0x6B41);
        for (int i = neurons - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        var groupOf = new int[neurons];
        for (int i = 0; i < neurons; i++) groupOf[perm[i]] = (int)((long)i * groups / neurons);
        return groupOf;
    }

    /// <summary>
    /// The neurons whose statistics and biases <see cref="Update"/> receives (default: all of them) and the ranks
    /// holding the others: a sharded run sums the group peaks over ranks, 2K + 2 numbers per update.
    /// </summary>
    internal (NeuronShard Shard, Communicator Communicator)? Sharding
    {
        get => _sharding;
        init
        {
            if (value is { } v && v.Shard.Total != GroupOf.Length)
                throw new ArgumentException($"A shard of {v.Shard.Total} neurons does not split these {GroupOf.Length}.", nameof(Sharding));
            _sharding = value;
        }
    }

    readonly (NeuronShard Shard, Communicator Communicator)? _sharding;
    double[]? _sums;        // [K group sums | K group counts | overall sum | overall count]
    readonly long[] _moved = new long[2];

    /// <summary>
    /// Applies the rule to <paramref name="bias"/> from the buffered statistics (which the caller then resets).
    /// Sharded: both are this rank's neurons, and the summary counts every rank's.
    /// </summary>
    public BiasUpdateSummary Update(FiringStatistics stats, Span<float> bias)
    {
        int total = GroupOf.Length, first = _sharding?.Shard.First ?? 0, m = _sharding?.Shard.Count ?? total;
        if (stats.Tokens == 0) return new BiasUpdateSummary(0, 0, total, true);
        // Scratch kept between calls: the update runs inside training steps, which allocate nothing.
        int groups = Groups;
        var sums = _sums ??= new double[2 * groups + 2];
        Array.Clear(sums);
        var groupSum = sums.AsSpan(0, groups);
        var groupCount = sums.AsSpan(groups, groups);
        for (int n = 0; n < m; n++)
        {
            double r = Math.Max(stats.MaxY[n], 0f);
            if (r > 0)
            {
                int k = GroupOf[first + n];
                groupSum[k] += r; groupCount[k]++;
                sums[2 * groups] += r; sums[2 * groups + 1]++;
            }
        }
        if (_sharding is { } sharding) sharding.Communicator.AllReduce(sums, ReduceOperation.Sum);
        double allSum = sums[2 * groups], allCount = sums[2 * groups + 1];
        if (allCount == 0) return new BiasUpdateSummary(0, 0, total, true);
        double allMean = allSum / allCount;
        int lowered = 0, raised = 0;
        for (int n = 0; n < m; n++)
        {
            int k = GroupOf[first + n];
            double q = (double)stats.FireCount[n] / stats.Tokens;
            double r = Math.Max(stats.MaxY[n], 0f);
            if (q > Tafs[k])
            {
                bias[n] = (float)Math.Max(bias[n] - GammaMinus * r, -1.0);
                lowered++;
            }
            else if (q < Epsilon)
            {
                double rbar = groupCount[k] > 0 ? groupSum[k] / groupCount[k] : allMean;
                float peak = stats.MaxY[n];
                // A neuron that saw no token at all (peak −∞) has no edge to lift to.
                double shortfall = Rule == BiasRule.Edge && peak < 0 && float.IsFinite(peak) ? -peak : 0;
                bias[n] = (float)Math.Min(bias[n] + shortfall + GammaPlus * rbar, 0.0);
                raised++;
            }
        }
        if (_sharding is { } counts)
        {
            (_moved[0], _moved[1]) = (lowered, raised);
            counts.Communicator.AllReduce(_moved, ReduceOperation.Sum);
            (lowered, raised) = ((int)_moved[0], (int)_moved[1]);
        }
        return new BiasUpdateSummary(lowered, raised, total - lowered - raised, false);
    }
}
