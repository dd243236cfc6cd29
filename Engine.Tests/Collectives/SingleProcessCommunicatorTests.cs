using GbaEngine.Collectives;

namespace GbaEngine.Tests.Collectives;

/// <summary>The group of one: reductions and broadcasts change nothing, gathers copy, nothing is allocated.
/// (Engine.Distributed.Tests runs the full collective checks on it and on MPI with 2 and 3 ranks.)</summary>
public class SingleProcessCommunicatorTests
{
    static readonly Communicator One = SingleProcessCommunicator.Instance;

    [Fact]
    public void ReductionsAndBroadcastsLeaveTheValues()
    {
        float[] f = [1.5f, -2f, float.NaN];
        double[] d = [3, -0.0];
        long[] l = [long.MinValue, 7];
        ValueIndex[] v = [new(2f, 9), new(-1f, 0)];
        One.AllReduce(f, ReduceOperation.Sum);
        One.AllReduce(d, ReduceOperation.Max);
        One.AllReduce(l, ReduceOperation.Sum);
        One.AllReduceArgMax(v);
        One.Broadcast<float>(f, root: 0);
        One.Barrier();
        Assert.Equal([1.5f, -2f, float.NaN], f);
        Assert.True(d[0] == 3 && double.IsNegative(d[1]));
        Assert.Equal([long.MinValue, 7], l);
        Assert.Equal([new ValueIndex(2f, 9), new ValueIndex(-1f, 0)], v);
        Assert.Equal((0, 1), (One.Rank, One.Size));
    }

    [Fact]
    public void GathersCopyThisRanksBlock()
    {
        var all = new int[3];
        One.AllGather<int>([4, 5, 6], all);
        Assert.Equal([4, 5, 6], all);
        var packed = new long[5];
        One.AllGatherVariable<long>([8, 9], packed, [2]);
        Assert.Equal([8, 9, 0, 0, 0], packed);
    }

    [Fact]
    public void WrongShapesAreRefused()
    {
        Assert.Throws<ArgumentException>(() => One.AllGather<int>([1, 2], new int[3]));
        Assert.Throws<ArgumentException>(() => One.AllGatherVariable<int>([1, 2], new int[2], [3]));
        Assert.Throws<ArgumentException>(() => One.AllGatherVariable<int>([1], new int[2], [1, 0]));
        Assert.Throws<ArgumentException>(() => One.AllGatherVariable<int>([1], new int[0], [1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => One.Broadcast<int>(new int[1], root: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => One.AllReduce(new float[1], (ReduceOperation)7));
        var shared = new int[2];
        Assert.Throws<ArgumentException>(() => One.AllGather<int>(shared.AsSpan(0, 2), shared));
    }

    [Fact]
    public void CallsAllocateNothing()
    {
        var f = new float[64];
        var d = new double[64];
        var v = new ValueIndex[8];
        var all = new int[4];
        void Round()
        {
            One.AllReduce(f, ReduceOperation.Sum);
            One.AllReduce(d, ReduceOperation.Max);
            One.AllReduceArgMax(v);
            One.Broadcast<double>(d, 0);
            Span<int> mine = stackalloc int[4];
            One.AllGather<int>(mine, all);
            One.AllGatherVariable<int>(mine, all, [4]);
            One.Barrier();
        }
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++) Round();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
