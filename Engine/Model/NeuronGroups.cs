namespace GbaEngine.Model;

/// <summary>
/// GBA's split of the neurons into groups, each with a target activation frequency (TAF): what the
/// bias rule adapts against, what evaluation reports per group and what an export records.
/// </summary>
/// <param name="GroupOf">[M] the group of every neuron.</param>
/// <param name="Tafs">[K] each group's TAF, group 0 the highest.</param>
public sealed record NeuronGroups(int[] GroupOf, double[] Tafs)
{
    /// <summary>K, the number of groups.</summary>
    public int Count => Tafs.Length;

    /// <summary>The TAF of neuron m.</summary>
    public double TafOf(int m) => Tafs[GroupOf[m]];
}
