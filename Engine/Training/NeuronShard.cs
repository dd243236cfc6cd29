using GbaEngine.Collectives;
using GbaEngine.Threading;

namespace GbaEngine.Training;

/// <summary>
/// The neurons one rank of a sharded run owns (docs/distributed.md): the contiguous range
/// [<see cref="First"/>, <see cref="First"/> + <see cref="Count"/>) of the <see cref="Total"/> neurons, the
/// ranks splitting M as evenly as integers allow (the first M mod P ranks hold one more). Every rank
/// holds those rows of W_enc and W_dec, their a and b, their AdamW moments and their GBA statistics;
/// b_pre is replicated. A single process is the shard of all neurons on one rank.
/// </summary>
/// <param name="First">Global index of this rank's first neuron.</param>
/// <param name="Count">Neurons this rank owns.</param>
/// <param name="Total">M, the SAE's width.</param>
/// <param name="Rank">This rank.</param>
/// <param name="Ranks">P, the number of ranks.</param>
public readonly record struct NeuronShard(int First, int Count, int Total, int Rank, int Ranks)
{
    /// <summary>All of <paramref name="neurons"/> on one process.</summary>
    public static NeuronShard Whole(int neurons) => new(0, neurons, neurons, 0, 1);

    /// <summary>The range rank <paramref name="rank"/> of <paramref name="ranks"/> owns; every rank must own at least one neuron.</summary>
    public static NeuronShard Of(int neurons, int ranks, int rank)
    {
        if (ranks < 1 || (uint)rank >= (uint)ranks) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"Not a rank of {ranks}.");
        if (neurons < ranks)
            throw new ArgumentException($"An SAE of M = {neurons} neurons cannot be split over {ranks} ranks: every rank needs at least one neuron.");
        var (start, end) = FixedPartition.Range(neurons, ranks, rank);
        return new NeuronShard(start, end - start, neurons, rank, ranks);
    }

    /// <summary>The shard of <paramref name="communicator"/>'s rank.</summary>
    public static NeuronShard Of(int neurons, Communicator communicator) => Of(neurons, communicator.Size, communicator.Rank);

    /// <summary>True when one process holds every neuron.</summary>
    public bool IsWhole => Ranks == 1;

    /// <summary>Whether global neuron <paramref name="neuron"/> is this rank's.</summary>
    public bool Owns(int neuron) => neuron >= First && neuron - First < Count;

    /// <summary>Neurons per rank, in rank order (the counts of a gather of per-neuron values).</summary>
    public int[] Counts()
    {
        var counts = new int[Ranks];
        for (int r = 0; r < Ranks; r++) counts[r] = Of(Total, Ranks, r).Count;
        return counts;
    }

    /// <summary>"neurons 0..5461 of 16384 on rank 0 of 3" and the like.</summary>
    public override string ToString() => $"neurons {First}..{First + Count - 1} of {Total} on rank {Rank} of {Ranks}";
}
