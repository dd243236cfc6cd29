using System.Runtime.InteropServices;
using GbaEngine.Collectives;

namespace GbaEngine.Distributed.Tests;

/// <summary>A check that failed on this rank.</summary>
public sealed class CheckFailedException(string message) : Exception(message);

/// <summary>
/// Every <see cref="Communicator"/> call, checked on every rank against what the rank can compute by
/// itself: each rank's inputs are a function of (rank, index), so any rank can rebuild every other
/// rank's data and the expected result. Run by the check program under mpirun with 2 and 3 ranks,
/// and in-process on <see cref="SingleProcessCommunicator"/>. Reductions of floats are also checked
/// to give every rank the same bits. Lengths include 0, odd sizes and a 4 MB message (MPI switches
/// algorithms for large messages).
/// </summary>
public sealed class CollectiveChecks(Communicator comm, string? barrierDirectory)
{
    static readonly int[] Lengths = [0, 1, 7, 1000, (1 << 20) + 3];
    const double FloatUnitRoundoff = 5.9604644775390625e-8;     // 2^-24
    const double DoubleUnitRoundoff = 1.1102230246251565e-16;   // 2^-53
    readonly int _rank = comm.Rank, _size = comm.Size;
    int _passed;

    /// <summary>Runs every check; returns how many passed (a failure throws <see cref="CheckFailedException"/>).</summary>
    public int Run()
    {
        Check(_rank >= 0 && _rank < _size, $"rank {_rank} lies in 0..{_size - 1}");
        RanksGather();
        foreach (int n in Lengths)
        {
            ExactSums(n);
            RoundedSums(n);
            Maxima(n);
            ArgMax(n);
            Broadcasts(n);
            Gathers(n);
        }
        VariableGathers();
        ArgumentErrors();
        if (comm is MpiCommunicator mpi)
        {
            MpiErrorsBecomeExceptions(mpi);
            LibraryIsGlobal();
        }
        if (barrierDirectory != null) BarrierWaitsForEveryRank(barrierDirectory);
        NoAllocation();
        comm.Barrier();
        return _passed;
    }

    void Check(bool ok, string what)
    {
        if (!ok) throw new CheckFailedException($"rank {_rank} of {_size}: {what}");
        _passed++;
    }

    void RanksGather()
    {
        var all = new int[_size];
        comm.AllGather([_rank], all);
        Check(all.SequenceEqual(Enumerable.Range(0, _size)), $"AllGather of ranks gives 0..{_size - 1} (got {string.Join(",", all)})");
    }

    /// <summary>Integer-valued data, so every summation order gives the exact sum.</summary>
    void ExactSums(int n)
    {
        var f = new float[n];
        var d = new double[n];
        var l = new long[n];
        for (int i = 0; i < n; i++)
        {
            f[i] = SmallInteger(_rank, i);
            d[i] = SmallInteger(_rank, i) * 0.5;
            l[i] = ((long)SmallInteger(_rank, i) << 36) + _rank;    // needs 64 bits
        }
        comm.AllReduce(f, ReduceOperation.Sum);
        comm.AllReduce(d, ReduceOperation.Sum);
        comm.AllReduce(l, ReduceOperation.Sum);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++)
        {
            long s = 0, sl = 0;
            for (int r = 0; r < _size; r++) { s += SmallInteger(r, i); sl += ((long)SmallInteger(r, i) << 36) + r; }
            if (f[i] != s || d[i] != s * 0.5 || l[i] != sl) bad = i;
        }
        Check(bad < 0, $"AllReduce sum of float/double/long, n = {n}: exact integer sums (first wrong index {bad})");
    }

    /// <summary>Random floats: within the rounding of P terms of the double-precision sum, and the same bits on every rank.</summary>
    void RoundedSums(int n)
    {
        var f = new float[n];
        var d = new double[n];
        for (int i = 0; i < n; i++) { f[i] = Uniform(_rank, i, 1); d[i] = Uniform(_rank, i, 2) * 1e-3 + Uniform(_rank, i, 3); }
        comm.AllReduce(f, ReduceOperation.Sum);
        comm.AllReduce(d, ReduceOperation.Sum);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++)
        {
            double sf = 0, af = 0, sd = 0, ad = 0;
            for (int r = 0; r < _size; r++)
            {
                sf += Uniform(r, i, 1); af += Math.Abs(Uniform(r, i, 1));
                double x = Uniform(r, i, 2) * 1e-3 + Uniform(r, i, 3);
                sd += x; ad += Math.Abs(x);
            }
            if (Math.Abs(f[i] - sf) > _size * af * FloatUnitRoundoff || Math.Abs(d[i] - sd) > _size * ad * DoubleUnitRoundoff) bad = i;
        }
        Check(bad < 0, $"AllReduce sum of random float/double, n = {n}: within P rounding errors of the exact sum (first wrong index {bad})");
        SameOnEveryRank(MemoryMarshal.AsBytes(f.AsSpan()), $"float sum, n = {n}");
        SameOnEveryRank(MemoryMarshal.AsBytes(d.AsSpan()), $"double sum, n = {n}");
    }

    void Maxima(int n)
    {
        var f = new float[n];
        var d = new double[n];
        var l = new long[n];
        for (int i = 0; i < n; i++) { f[i] = Uniform(_rank, i, 4) - 2; d[i] = -Uniform(_rank, i, 5); l[i] = -((long)Hash(_rank, i, 6) << 20); }
        comm.AllReduce(f, ReduceOperation.Max);
        comm.AllReduce(d, ReduceOperation.Max);
        comm.AllReduce(l, ReduceOperation.Max);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++)
        {
            float mf = float.NegativeInfinity;
            double md = double.NegativeInfinity;
            long ml = long.MinValue;
            for (int r = 0; r < _size; r++)
            {
                mf = MathF.Max(mf, Uniform(r, i, 4) - 2);
                md = Math.Max(md, -(double)Uniform(r, i, 5));
                ml = Math.Max(ml, -((long)Hash(r, i, 6) << 20));
            }
            if (f[i] != mf || d[i] != md || l[i] != ml) bad = i;
        }
        Check(bad < 0, $"AllReduce max of negative float/double/long, n = {n} (first wrong index {bad})");
    }

    /// <summary>Values from {0, 1, 2} so most elements tie across ranks: the smallest index must win,
    /// as one scan over every rank's neurons in order would pick it.</summary>
    void ArgMax(int n)
    {
        var v = new ValueIndex[n];
        for (int i = 0; i < n; i++) v[i] = new ValueIndex(Hash(_rank, i, 7) % 3, GlobalIndex(_rank, i));
        comm.AllReduceArgMax(v);
        int bad = -1;
        for (int i = 0; i < n && bad < 0; i++)
        {
            var best = new ValueIndex(float.NegativeInfinity, int.MaxValue);
            for (int r = 0; r < _size; r++)
            {
                var c = new ValueIndex(Hash(r, i, 7) % 3, GlobalIndex(r, i));
                if (c.Value > best.Value || c.Value == best.Value && c.Index < best.Index) best = c;
            }
            if (v[i].Value != best.Value || v[i].Index != best.Index) bad = i;
        }
        Check(bad < 0, $"AllReduceArgMax, n = {n}: largest value, smallest index among ties (first wrong index {bad})");
    }

    // Ranks own interleaved index ranges in reverse, so the smallest tying index is not always rank 0's.
    int GlobalIndex(int rank, int i) => (int)(Hash(rank, i, 8) % 1000) * _size + (_size - 1 - rank);

    void Broadcasts(int n)
    {
        for (int root = 0; root < _size; root++)
        {
            var f = new float[n];
            var pairs = new ValueIndex[n];
            for (int i = 0; i < n; i++)
            {
                f[i] = Uniform(_rank, i, 9);             // the root's values differ from everyone else's
                pairs[i] = new ValueIndex(Uniform(_rank, i, 10), (int)Hash(_rank, i, 11));
            }
            comm.Broadcast<float>(f, root);
            comm.Broadcast<ValueIndex>(pairs, root);
            int bad = -1;
            for (int i = 0; i < n && bad < 0; i++)
                if (BitConverter.SingleToInt32Bits(f[i]) != BitConverter.SingleToInt32Bits(Uniform(root, i, 9))
                    || pairs[i].Value != Uniform(root, i, 10) || pairs[i].Index != (int)Hash(root, i, 11))
                    bad = i;
            Check(bad < 0, $"Broadcast of floats and (float, int) pairs from root {root}, n = {n} (first wrong index {bad})");
        }
    }

    void Gathers(int n)
    {
        var mine = new double[n];
        for (int i = 0; i < n; i++) mine[i] = Uniform(_rank, i, 12);
        var all = new double[n * _size];
        all.AsSpan().Fill(double.NaN);
        comm.AllGather<double>(mine, all);
        int bad = -1;
        for (int r = 0; r < _size && bad < 0; r++)
            for (int i = 0; i < n && bad < 0; i++)
                if (all[r * n + i] != Uniform(r, i, 12)) bad = r * n + i;
        Check(bad < 0, $"AllGather of {n} doubles per rank in rank order (first wrong index {bad})");
    }

    /// <summary>Per-rank counts that differ and include zero, exchanged first with AllGather as a trainer would.</summary>
    void VariableGathers()
    {
        foreach (int scale in new[] { 1, 1000, 100_000 })
        {
            int Count(int r) => (r * 7 + 3) % 5 * scale;      // 3, 0, 2, ... × scale
            var mine = new long[Count(_rank)];
            for (int i = 0; i < mine.Length; i++) mine[i] = ((long)_rank << 40) + Hash(_rank, i, 13);
            var counts = new int[_size];
            comm.AllGather([mine.Length], counts);
            Check(counts.Select((c, r) => c == Count(r)).All(ok => ok), $"AllGather of the variable counts (scale {scale})");
            long total = counts.Sum();
            var all = new long[total + 5];                     // room to spare: only the packed prefix is written
            all.AsSpan().Fill(-1);
            comm.AllGatherVariable<long>(mine, all, counts);
            long at = 0, bad = -1;
            for (int r = 0; r < _size; r++)
                for (int i = 0; i < Count(r); i++, at++)
                    if (bad < 0 && all[at] != ((long)r << 40) + Hash(r, i, 13)) bad = at;
            Check(bad < 0 && all.AsSpan((int)total).IndexOfAnyExcept(-1L) < 0,
                $"AllGatherVariable of counts {string.Join(",", counts)} packed in rank order, nothing past them (first wrong index {bad})");
        }
    }

    /// <summary>Calls that cannot be right are refused before MPI sees them (on every rank alike, so nobody waits).</summary>
    void ArgumentErrors()
    {
        Check(Throws<ArgumentException>(() => comm.AllGather<int>(new int[2], new int[2 * _size + 1])), "AllGather into a buffer of the wrong length is refused");
        Check(Throws<ArgumentOutOfRangeException>(() => comm.Broadcast<int>(new int[1], _size)), "Broadcast from a root that is not a rank is refused");
        Check(Throws<ArgumentException>(() => comm.AllGatherVariable<int>(new int[1], new int[4 * _size], new int[_size + 1])), "AllGatherVariable with a count per rank missing is refused");
        var shared = new int[2 * _size];
        Check(Throws<ArgumentException>(() => comm.AllGather<int>(shared.AsSpan(0, 2), shared)), "AllGather from a slice of its own receive buffer is refused");
    }

    /// <summary>An invalid call that reaches MPI (past the binding's checks) returns MPI's error as an
    /// exception on every rank, and the job goes on working.</summary>
    unsafe void MpiErrorsBecomeExceptions(MpiCommunicator mpi)
    {
        var error = Record(() =>
        {
            int value = 0;
            mpi.Library.Bcast(&value, 1, mpi.Library.Abi.Byte, _size);
        });
        Check(error is MpiException { Function: "MPI_Bcast", ErrorCode: not 0 } e && e.Message.Length > "MPI_Bcast failed with MPI error".Length,
            $"MPI_Bcast with root {_size} throws MpiException with MPI's text (got {error?.GetType().Name}: {error?.Message})");
        var after = new long[] { 1 };
        comm.AllReduce(after, ReduceOperation.Sum);
        Check(after[0] == _size, "the job still reduces after the failed call");
    }

    /// <summary>libmpi's symbols resolve from the global scope (dlsym(RTLD_DEFAULT)), as MPI plug-ins opened with dlopen need.</summary>
    unsafe void LibraryIsGlobal()
    {
        nint dlsym = 0;
        foreach (var libc in new[] { "libc.so.6", "libdl.so.2" })
            if (NativeLibrary.TryLoad(libc, out nint h) && NativeLibrary.TryGetExport(h, "dlsym", out dlsym)) break;
        Check(dlsym != 0, "dlsym found in libc");
        nint symbol;
        fixed (byte* name = "MPI_Comm_rank\0"u8)
            symbol = ((delegate* unmanaged<nint, byte*, nint>)dlsym)(0, name);
        Check(symbol != 0, "MPI_Comm_rank resolves from the global scope");
    }

    /// <summary>Ranks arrive at the barrier at different times (rank r sleeps r × 300 ms first); after it,
    /// every rank's marker file must exist. A barrier that did not wait would let rank 0 look too early.</summary>
    void BarrierWaitsForEveryRank(string directory)
    {
        Thread.Sleep(300 * _rank);
        File.WriteAllText(Path.Combine(directory, $"rank-{_rank}"), "");
        comm.Barrier();
        var missing = Enumerable.Range(0, _size).Where(r => !File.Exists(Path.Combine(directory, $"rank-{r}"))).ToArray();
        Check(missing.Length == 0, $"after the barrier every rank's marker exists (missing: {string.Join(",", missing)})");
    }

    /// <summary>Warmed-up calls allocate nothing on the calling thread (a trainer step runs at 0 B).</summary>
    void NoAllocation()
    {
        var f = new float[256];
        var pairs = new ValueIndex[64];
        var gathered = new int[_size * 4];
        var counts = Enumerable.Repeat(4, _size).ToArray();
        var variable = new int[_size * 4];
        void Round()
        {
            comm.AllReduce(f, ReduceOperation.Sum);
            comm.AllReduce(f, ReduceOperation.Max);
            comm.AllReduceArgMax(pairs);
            comm.Broadcast<float>(f, _size - 1);
            Span<int> mine = stackalloc int[4];
            comm.AllGather<int>(mine, gathered);
            comm.AllGatherVariable<int>(mine, variable, counts);
            comm.Barrier();
        }
        Round();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) Round();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        var all = new long[_size];
        comm.AllGather([bytes], all);
        Check(all.All(b => b == 0), $"warmed-up collectives allocate nothing (bytes per rank: {string.Join(",", all)})");
    }

    void SameOnEveryRank(ReadOnlySpan<byte> bytes, string what)
    {
        ulong h = 14695981039346656037;         // FNV-1a over the result's bits
        foreach (byte b in bytes) h = (h ^ b) * 1099511628211;
        var all = new long[_size];
        comm.AllGather([(long)h], all);
        Check(all.All(x => x == all[0]), $"{what}: every rank received the same bits");
    }

    static bool Throws<T>(Action action) where T : Exception => Record(action) is T;

    static Exception? Record(Action action)
    {
        try { action(); return null; }
        catch (Exception e) { return e; }
    }

    static uint Hash(int rank, int i, int salt)
    {
        uint h = (uint)(i * 0x9E3779B1) ^ (uint)(rank * 0x85EBCA77) ^ (uint)(salt * 0xC2B2AE3D);
        h ^= h >> 16; h *= 0x7FEB352D; h ^= h >> 15; h *= 0x846CA68B; h ^= h >> 16;
        return h;
    }

    /// <summary>A float in [-1, 1) with 24 significant bits.</summary>
    static float Uniform(int rank, int i, int salt) => (int)(Hash(rank, i, salt) >> 8) / (float)(1 << 23) - 1f;

    static int SmallInteger(int rank, int i) => (int)(Hash(rank, i, 0) % 201) - 100;
}
