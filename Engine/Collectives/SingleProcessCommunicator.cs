namespace GbaEngine.Collectives;

/// <summary>
/// The group of one process: reductions and broadcasts leave the values as they are, gathers copy
/// this rank's block, the barrier returns at once. Nothing is allocated, so a trainer written against
/// <see cref="Communicator"/> costs a single process a few no-op calls per step.
/// </summary>
public sealed class SingleProcessCommunicator : Communicator
{
    /// <summary>The one instance (it has no state).</summary>
    public static SingleProcessCommunicator Instance { get; } = new();

    SingleProcessCommunicator()
    {
    }

    /// <inheritdoc/>
    public override int Rank => 0;

    /// <inheritdoc/>
    public override int Size => 1;

    /// <inheritdoc/>
    protected override void AllReduceCore(Span<float> values, ReduceOperation op) { }

    /// <inheritdoc/>
    protected override void AllReduceCore(Span<double> values, ReduceOperation op) { }

    /// <inheritdoc/>
    protected override void AllReduceCore(Span<long> values, ReduceOperation op) { }

    /// <inheritdoc/>
    protected override void AllReduceArgMaxCore(Span<ValueIndex> values) { }

    /// <inheritdoc/>
    protected override void BroadcastCore(Span<byte> bytes, int root) { }

    /// <inheritdoc/>
    protected override void AllGatherCore(ReadOnlySpan<byte> mine, Span<byte> all) => mine.CopyTo(all);

    /// <inheritdoc/>
    protected override void AllGatherVariableCore(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<int> counts, int elementSize) =>
        mine.CopyTo(all);

    /// <inheritdoc/>
    protected override void BarrierCore() { }
}
