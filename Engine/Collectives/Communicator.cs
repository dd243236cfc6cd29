// The collectives that one SAE trained over several processes needs (docs/distributed.md): each
// process (a rank) owns a slice of the neurons, and per step the ranks sum their partial
// reconstructions, b_pre's gradient and GBA's group peaks (AllReduce), merge TopK candidates
// (AllGather/AllGatherVariable) and matching pursuit's per-token best atom (AllReduceArgMax).
// Arguments are checked here, once, so every implementation sees valid calls only; the typed calls
// reach the implementations as bytes, so an implementation has no generic virtual methods.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GbaEngine.Collectives;

/// <summary>How <see cref="Communicator.AllReduce(Span{float}, ReduceOperation)"/> combines the ranks' values.</summary>
public enum ReduceOperation
{
    /// <summary>The sum over ranks. Floating-point sums are added in the MPI library's order, fixed for a
    /// given number of ranks and length (not the single process's order); the tests check that every
    /// rank receives the same bits.</summary>
    Sum,
    /// <summary>The largest value over ranks.</summary>
    Max,
}

/// <summary>A value and the index it was found at: one per-token candidate of an arg-max over ranks.
/// The layout is MPI's <c>MPI_FLOAT_INT</c> (a float, then a 32-bit int).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct ValueIndex(float value, int index)
{
    /// <summary>The candidate's value.</summary>
    public float Value = value;
    /// <summary>Where it was found (a global neuron index, so ties resolve the same on every rank).</summary>
    public int Index = index;

    /// <inheritdoc/>
    public override readonly string ToString() => $"({Value}, {Index})";
}

/// <summary>
/// A group of <see cref="Size"/> cooperating processes, this one being <see cref="Rank"/>. Every call
/// is collective: all ranks make the same calls in the same order with matching lengths (and the same
/// root), and a call returns once this rank's part is complete. Not for concurrent use from several
/// threads. <see cref="SingleProcessCommunicator"/> is the group of one; an MPI implementation lives
/// outside the library (GbaEngine.Distributed), which therefore needs no native library of its own.
/// </summary>
public abstract class Communicator : IDisposable
{
    /// <summary>This process's index in the group, 0..Size-1.</summary>
    public abstract int Rank { get; }

    /// <summary>Number of processes in the group.</summary>
    public abstract int Size { get; }

    /// <summary>Replaces every element by its sum or maximum over all ranks, in place.</summary>
    public void AllReduce(Span<float> values, ReduceOperation op) => AllReduceCore(values, CheckOperation(op));

    /// <inheritdoc cref="AllReduce(Span{float}, ReduceOperation)"/>
    public void AllReduce(Span<double> values, ReduceOperation op) => AllReduceCore(values, CheckOperation(op));

    /// <inheritdoc cref="AllReduce(Span{float}, ReduceOperation)"/>
    public void AllReduce(Span<long> values, ReduceOperation op) => AllReduceCore(values, CheckOperation(op));

    /// <summary>Replaces every element by the one with the largest value over all ranks; among equal
    /// values the smallest index wins (MPI_MAXLOC), so a global arg-max over indices split between
    /// ranks resolves ties exactly as one scan over all indices in ascending order would.</summary>
    public void AllReduceArgMax(Span<ValueIndex> values) => AllReduceArgMaxCore(values);

    /// <summary>Copies <paramref name="root"/>'s values into every other rank's <paramref name="values"/>.</summary>
    public void Broadcast<T>(Span<T> values, int root) where T : unmanaged
    {
        if ((uint)root >= (uint)Size)
            throw new ArgumentOutOfRangeException(nameof(root), root, $"The broadcast root must be a rank in 0..{Size - 1}.");
        CheckByteLength<T>(values.Length, "Broadcast");
        BroadcastCore(MemoryMarshal.AsBytes(values), root);
    }

    /// <summary>Every rank's <paramref name="mine"/> (all of the same length n), in rank order, into
    /// <paramref name="all"/> [Size × n] on every rank.</summary>
    public void AllGather<T>(ReadOnlySpan<T> mine, Span<T> all) where T : unmanaged
    {
        if ((long)all.Length != (long)mine.Length * Size)
            throw new ArgumentException($"AllGather of {mine.Length} elements per rank over {Size} ranks needs {(long)mine.Length * Size} elements to receive into (got {all.Length}).", nameof(all));
        CheckByteLength<T>(all.Length, "AllGather");
        CheckNoOverlap(mine, all);
        AllGatherCore(MemoryMarshal.AsBytes(mine), MemoryMarshal.AsBytes(all));
    }

    /// <summary>
    /// Every rank's <paramref name="mine"/>, of <paramref name="counts"/>[r] elements on rank r, packed
    /// in rank order into the start of <paramref name="all"/> on every rank. Every rank passes the same
    /// counts (exchange them first with <see cref="AllGather{T}"/> when they vary).
    /// </summary>
    public void AllGatherVariable<T>(ReadOnlySpan<T> mine, Span<T> all, ReadOnlySpan<int> counts) where T : unmanaged
    {
        if (counts.Length != Size)
            throw new ArgumentException($"AllGatherVariable needs one count per rank ({Size}), got {counts.Length}.", nameof(counts));
        long total = 0;
        foreach (int c in counts)
        {
            if (c < 0) throw new ArgumentException($"AllGatherVariable counts must not be negative (got {c}).", nameof(counts));
            total += c;
        }
        if (counts[Rank] != mine.Length)
            throw new ArgumentException($"Rank {Rank} sends {mine.Length} elements but its count says {counts[Rank]}.", nameof(mine));
        if (all.Length < total)
            throw new ArgumentException($"AllGatherVariable receives {total} elements; the buffer holds {all.Length}.", nameof(all));
        CheckByteLength<T>(total, "AllGatherVariable");
        CheckNoOverlap(mine, all);
        AllGatherVariableCore(MemoryMarshal.AsBytes(mine), MemoryMarshal.AsBytes(all[..(int)total]), counts, Unsafe.SizeOf<T>());
    }

    /// <summary>Returns once every rank has called it.</summary>
    public void Barrier() => BarrierCore();

    /// <summary>Leaves the group (MPI: finalises it); the single process has nothing to release.</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);

    /// <summary>In-place element-wise reduction over all ranks.</summary>
    protected abstract void AllReduceCore(Span<float> values, ReduceOperation op);
    /// <summary>In-place element-wise reduction over all ranks.</summary>
    protected abstract void AllReduceCore(Span<double> values, ReduceOperation op);
    /// <summary>In-place element-wise reduction over all ranks.</summary>
    protected abstract void AllReduceCore(Span<long> values, ReduceOperation op);
    /// <summary>In-place MPI_MAXLOC over all ranks.</summary>
    protected abstract void AllReduceArgMaxCore(Span<ValueIndex> values);
    /// <summary>Root's bytes to every rank; root is a valid rank.</summary>
    protected abstract void BroadcastCore(Span<byte> bytes, int root);
    /// <summary>Equal blocks in rank order; <paramref name="all"/> is exactly Size blocks and does not overlap <paramref name="mine"/>.</summary>
    protected abstract void AllGatherCore(ReadOnlySpan<byte> mine, Span<byte> all);
    /// <summary>Blocks of counts[r] × elementSize bytes packed in rank order; <paramref name="all"/> is exactly their total.</summary>
    protected abstract void AllGatherVariableCore(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<int> counts, int elementSize);
    /// <summary>Waits for every rank.</summary>
    protected abstract void BarrierCore();

    static ReduceOperation CheckOperation(ReduceOperation op) =>
        op is ReduceOperation.Sum or ReduceOperation.Max ? op : throw new ArgumentOutOfRangeException(nameof(op), op, "Unknown reduction.");

    // Typed calls travel as bytes, and a span of bytes (an MPI count) holds at most int.MaxValue.
    static void CheckByteLength<T>(long elements, string call) where T : unmanaged
    {
        if (elements * Unsafe.SizeOf<T>() > int.MaxValue)
            throw new ArgumentException($"{call} of {elements} elements of {Unsafe.SizeOf<T>()} bytes exceeds 2 GB: send it in pieces.");
    }

    // MPI forbids a send buffer that aliases the receive buffer (other than MPI_IN_PLACE).
    static void CheckNoOverlap<T>(ReadOnlySpan<T> mine, Span<T> all) where T : unmanaged
    {
        if (mine.Overlaps(all))
            throw new ArgumentException("The send buffer must not overlap the receive buffer.", nameof(mine));
    }
}
