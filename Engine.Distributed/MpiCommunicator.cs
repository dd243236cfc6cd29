using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using GbaEngine.Collectives;

namespace GbaEngine.Distributed;

/// <summary>
/// <see cref="Communicator"/> over MPI_COMM_WORLD of the system's libmpi (Open MPI or the MPICH ABI),
/// called through function pointers. Reductions run in place (MPI_IN_PLACE); typed broadcasts and
/// gathers move bytes. MPI errors come back as <see cref="MpiException"/>. A call allocates nothing.
/// Dispose finalises MPI; a process initialises MPI at most once.
/// </summary>
public sealed unsafe class MpiCommunicator : Communicator
{
    static int s_initialized;
    readonly MpiLibrary _mpi;
    readonly MpiAbi _abi;
    readonly int[] _byteCounts, _displacements;   // AllGatherVariable's per-rank byte counts, kept for the next call
    bool _finalized;

    MpiCommunicator(MpiLibrary mpi, MpiLaunch launch, int rank, int size, MpiThreadLevel provided)
    {
        _mpi = mpi;
        _abi = mpi.Abi;
        Launch = launch;
        Rank = rank;
        Size = size;
        ThreadLevel = provided;
        _byteCounts = new int[size];
        _displacements = new int[size];
    }

    /// <summary>
    /// Loads the launch's MPI library and initialises it with at least <paramref name="required"/>
    /// thread support (Serialized: a trainer may call from whichever thread runs it, one call at a
    /// time). Fails with <see cref="MpiException"/> when no library loads, when it provides less
    /// thread support, or when it sees another number of ranks than the launcher started (a library
    /// from another MPI than the launcher's: set <see cref="MpiLaunch.LibraryVariable"/>).
    /// </summary>
    public static MpiCommunicator Initialize(MpiLaunch launch, MpiThreadLevel required = MpiThreadLevel.Serialized)
    {
        ArgumentNullException.ThrowIfNull(launch);
        if (Interlocked.Exchange(ref s_initialized, 1) != 0)
            throw new InvalidOperationException("MPI was already initialised in this process; MPI allows it once.");
        var mpi = MpiLibrary.Load(launch);
        var provided = mpi.InitThread(required);
        mpi.ReturnErrors();
        int rank = mpi.CommRank(), size = mpi.CommSize();
        string? problem = null;
        if (provided < required)
            problem = $"{mpi.Path} provides MPI thread level {provided}; {required} is needed.";
        else if (launch.Size is { } n && n != size || launch.Rank is { } r && r != rank)
            problem = $"{launch.Launcher} started this process as rank {launch.Rank?.ToString() ?? "?"} of {launch.Size?.ToString() ?? "?"}, but {mpi.Path} ({VersionLine(mpi.Version)}) sees rank {rank} of {size}: it is not the launcher's MPI library. Set {MpiLaunch.LibraryVariable} to the launcher's libmpi.";
        if (problem != null)
        {
            mpi.FinalizeMpi();
            throw new MpiException(problem);
        }
        return new MpiCommunicator(mpi, launch, rank, size, provided);
    }

    /// <inheritdoc/>
    public override int Rank { get; }

    /// <inheritdoc/>
    public override int Size { get; }

    /// <summary>How the job was launched.</summary>
    public MpiLaunch Launch { get; }

    /// <summary>The thread support MPI provided.</summary>
    public MpiThreadLevel ThreadLevel { get; }

    /// <summary>The MPI family of the loaded library.</summary>
    public MpiFamily Family => _abi.Family;

    /// <summary>The library file or name that was loaded.</summary>
    public string LibraryPath => _mpi.Path;

    /// <summary>The first line of MPI_Get_library_version (e.g. "Open MPI v4.1.4, ...").</summary>
    public string LibraryVersion => VersionLine(_mpi.Version);

    /// <summary>"rank 1 of 3, Open MPI v4.1.4 (libmpi.so.40)" and the like.</summary>
    public override string ToString() => $"rank {Rank} of {Size}, {LibraryVersion} ({LibraryPath})";

    /// <summary>
    /// Runs <paramref name="body"/>; if it throws, prints the error with this rank's number and aborts
    /// the whole job (MPI_Abort), because the other ranks would otherwise wait in their next collective
    /// for this one forever. Returns the body's exit code.
    /// </summary>
    public int RunOrAbort(Func<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return body();
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"rank {Rank} of {Size} failed; aborting the MPI job: {e}");
            Console.Error.Flush();
            Abort(1);
            throw new UnreachableException();
        }
    }

    /// <summary>Ends every rank of the job with <paramref name="errorCode"/> (MPI_Abort).</summary>
    [DoesNotReturn]
    public void Abort(int errorCode)
    {
        if (!_finalized) _mpi.Abort(errorCode);
        Environment.Exit(errorCode);     // MPI_Abort does not return; this is for a finalised MPI
        throw new UnreachableException();
    }

    /// <summary>Finalises MPI (collective: every rank disposes). Later calls throw <see cref="ObjectDisposedException"/>.</summary>
    public override void Dispose()
    {
        if (!_finalized)
        {
            _finalized = true;
            if (!_mpi.IsFinalized()) _mpi.FinalizeMpi();
        }
        base.Dispose();
    }

    /// <inheritdoc/>
    protected override void AllReduceCore(Span<float> values, ReduceOperation op)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (values.IsEmpty) return;
        fixed (float* p = values) _mpi.AllreduceInPlace(p, values.Length, _abi.Float, Operation(op));
    }

    /// <inheritdoc/>
    protected override void AllReduceCore(Span<double> values, ReduceOperation op)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (values.IsEmpty) return;
        fixed (double* p = values) _mpi.AllreduceInPlace(p, values.Length, _abi.Double, Operation(op));
    }

    /// <inheritdoc/>
    protected override void AllReduceCore(Span<long> values, ReduceOperation op)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (values.IsEmpty) return;
        fixed (long* p = values) _mpi.AllreduceInPlace(p, values.Length, _abi.Int64, Operation(op));
    }

    /// <inheritdoc/>
    protected override void AllReduceArgMaxCore(Span<ValueIndex> values)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (values.IsEmpty) return;
        fixed (ValueIndex* p = values) _mpi.AllreduceInPlace(p, values.Length, _abi.FloatInt, _abi.MaxLoc);
    }

    /// <inheritdoc/>
    protected override void BroadcastCore(Span<byte> bytes, int root)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (bytes.IsEmpty) return;
        fixed (byte* p = bytes) _mpi.Bcast(p, bytes.Length, _abi.Byte, root);
    }

    /// <inheritdoc/>
    protected override void AllGatherCore(ReadOnlySpan<byte> mine, Span<byte> all)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (all.IsEmpty) return;
        fixed (byte* send = mine, receive = all) _mpi.Allgather(send, mine.Length, _abi.Byte, receive);
    }

    /// <inheritdoc/>
    protected override void AllGatherVariableCore(ReadOnlySpan<byte> mine, Span<byte> all, ReadOnlySpan<int> counts, int elementSize)
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        if (all.IsEmpty) return;
        int offset = 0;
        for (int r = 0; r < counts.Length; r++)
        {
            // The total fits in int: it is the length of a byte span.
            _byteCounts[r] = counts[r] * elementSize;
            _displacements[r] = offset;
            offset += _byteCounts[r];
        }
        byte none = 0;     // a rank sending nothing still passes a valid address
        fixed (byte* send = mine, receive = all)
        fixed (int* byteCounts = _byteCounts, displacements = _displacements)
            _mpi.Allgatherv(send == null ? &none : send, mine.Length, _abi.Byte, receive, byteCounts, displacements);
    }

    /// <inheritdoc/>
    protected override void BarrierCore()
    {
        ObjectDisposedException.ThrowIf(_finalized, this);
        _mpi.Barrier();
    }

    /// <summary>The raw library, for tests that reach MPI past the argument checks (its error path).</summary>
    internal MpiLibrary Library => _mpi;

    nint Operation(ReduceOperation op) => op == ReduceOperation.Sum ? _abi.Sum : _abi.Max;

    /// <summary>"Open MPI v4.1.4" or "MPICH Version: 4.0.2": the first line up to its first comma, spaces collapsed.</summary>
    static string VersionLine(string version) =>
        string.Join(' ', version.Split('\n', 2)[0].Split(',', 2)[0].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
}
