using GbaEngine.Collectives;

namespace GbaEngine.Benchmarks.Distributed;

/// <summary>
/// A communicator that passes every call to another and counts the payload this rank hands to the
/// collectives: the elements reduced in place, a gather's own block, a broadcast's bytes. That is what a step
/// moves per rank before the library's algorithm (a ring allreduce sends and receives about 2(P-1)/P of it).
/// </summary>
internal sealed class CountingCommunicator(Communicator inner) : Communicator
{
    public long Bytes { get; private set; }
    public long Calls { get; private set; }

    public void Reset() => (Bytes, Calls) = (0, 0);

    public override int Rank => inner.Rank;
    public override int Size => inner.Size;

    void Count(long bytes) { Bytes += bytes; Calls++; }

    protected override void AllReduceCore(Span<float> values, ReduceOperation op) { Count(values.Length * 4L); inner.AllReduce(values, op); }
    protected override void AllReduceCore(Span<double> values, ReduceOperation op) { Count(values.Length * 8L); inner.AllReduce(values, op); }
    protected override void AllReduceCore(Span<long> values, ReduceOperation op) { Count(values.Length * 8L); inner.AllReduce(values, op); }
    protected override void AllReduceArgMaxCore(Span<ValueIndex> values) { Count(values.Length * 8L); inner.AllReduceArgMax(values); }
    protected override void BroadcastCore(Span<byte> bytes, int root) { Count(bytes.Length); inner.Broadcast(bytes, root); }
    protected override void AllGatherCore(ReadOnlySpan<byte> mine, Span<byte> all) { Count(mine.Length); inner.AllGather(mine, all); }

    protected override void AllGatherVariableCore(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<int> counts, int elementSize)
    {
        Count(mine.Length);
        Span<int> bytes = stackalloc int[counts.Length];
        for (int r = 0; r < counts.Length; r++) bytes[r] = counts[r] * elementSize;
        inner.AllGatherVariable(mine, all, bytes);
    }

    protected override void BarrierCore() => inner.Barrier();
}
