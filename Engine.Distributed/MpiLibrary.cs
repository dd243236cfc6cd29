// libmpi loaded at run time (NativeLibrary, function pointers): no import library, no build-time MPI,
// and nothing loaded unless a launch asks for it. Each call returns MPI's error code; Check turns a
// non-zero one into an MpiException with MPI's own text for it.
using System.Runtime.InteropServices;
using System.Text;

namespace GbaEngine.Distributed;

/// <summary>The MPI thread support levels (the same values in every MPI).</summary>
public enum MpiThreadLevel
{
    /// <summary>One thread in the process.</summary>
    Single = 0,
    /// <summary>Only the thread that initialised MPI calls it.</summary>
    Funneled = 1,
    /// <summary>Any thread calls MPI, one at a time.</summary>
    Serialized = 2,
    /// <summary>Any thread, concurrently.</summary>
    Multiple = 3,
}

/// <summary>A loaded libmpi: which one, its ABI, and the handful of functions the binding calls.</summary>
internal sealed unsafe class MpiLibrary
{
    readonly delegate* unmanaged<int*, int> _initialized, _finalized;
    readonly delegate* unmanaged<int*, void*, int, int*, int> _initThread;
    readonly delegate* unmanaged<int> _finalize;
    readonly delegate* unmanaged<nint, int*, int> _commRank, _commSize;
    readonly delegate* unmanaged<nint, nint, int> _setErrorHandler;
    readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> _allreduce;
    readonly delegate* unmanaged<void*, int, nint, int, nint, int> _bcast;
    readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> _allgather;
    readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> _allgatherv;
    readonly delegate* unmanaged<nint, int> _barrier;
    readonly delegate* unmanaged<nint, int, int> _abort;
    readonly delegate* unmanaged<int, byte*, int*, int> _errorString;

    MpiLibrary(nint handle, string path)
    {
        Path = path;
        nint Function(string name) => NativeLibrary.TryGetExport(handle, name, out nint f)
            ? f
            : throw new MpiException($"{path} exports no {name}: not an MPI library.");
        _initialized = (delegate* unmanaged<int*, int>)Function("MPI_Initialized");
        _finalized = (delegate* unmanaged<int*, int>)Function("MPI_Finalized");
        _initThread = (delegate* unmanaged<int*, void*, int, int*, int>)Function("MPI_Init_thread");
        _finalize = (delegate* unmanaged<int>)Function("MPI_Finalize");
        _commRank = (delegate* unmanaged<nint, int*, int>)Function("MPI_Comm_rank");
        _commSize = (delegate* unmanaged<nint, int*, int>)Function("MPI_Comm_size");
        _setErrorHandler = (delegate* unmanaged<nint, nint, int>)Function("MPI_Comm_set_errhandler");
        _allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Function("MPI_Allreduce");
        _bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Function("MPI_Bcast");
        _allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Function("MPI_Allgather");
        _allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Function("MPI_Allgatherv");
        _barrier = (delegate* unmanaged<nint, int>)Function("MPI_Barrier");
        _abort = (delegate* unmanaged<nint, int, int>)Function("MPI_Abort");
        _errorString = (delegate* unmanaged<int, byte*, int*, int>)Function("MPI_Error_string");

        // MPI_Get_library_version may be called before MPI_Init (MPI-3).
        var getVersion = (delegate* unmanaged<byte*, int*, int>)Function("MPI_Get_library_version");
        var text = new byte[8192];      // MPI_MAX_LIBRARY_VERSION_STRING: 256 in Open MPI, 8192 in MPICH
        int length;
        fixed (byte* p = text)
            if (getVersion(p, &length) != 0) length = 0;
        Version = Encoding.UTF8.GetString(text, 0, Math.Clamp(length, 0, text.Length)).Trim('\0', ' ', '\n', '\t');

        // Open MPI is the library that exports its predefined objects; the MPICH ABI family says so in its version.
        if (NativeLibrary.TryGetExport(handle, "ompi_mpi_comm_world", out _)) Abi = MpiAbi.OpenMpi(handle);
        else if (Version.Contains("MPICH", StringComparison.OrdinalIgnoreCase) || Version.Contains("Intel(R) MPI", StringComparison.Ordinal)
                 || Version.Contains("MVAPICH", StringComparison.OrdinalIgnoreCase))
            Abi = MpiAbi.Mpich;
        else
            throw new MpiException($"{path} is an MPI library this binding does not know (\"{FirstLine(Version)}\"): it supports Open MPI and the MPICH ABI (MPICH, Intel MPI, MVAPICH). Set {MpiLaunch.LibraryVariable} to one of those.");
    }

    /// <summary>The file or name it was loaded from.</summary>
    public string Path { get; }

    /// <summary>MPI_Get_library_version's text.</summary>
    public string Version { get; }

    /// <summary>The library's handles.</summary>
    public MpiAbi Abi { get; }

    /// <summary>Loads the launch's library: its <see cref="MpiLaunch.LibraryPath"/>, else the first of
    /// <see cref="MpiLaunch.LibraryCandidates"/> the dynamic loader finds.</summary>
    public static MpiLibrary Load(MpiLaunch launch)
    {
        if (launch.LibraryPath is { } path)
        {
            nint handle;
            try
            {
                handle = NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e)
            {
                throw new MpiException($"{MpiLaunch.LibraryVariable}={path}: cannot load it ({e.Message}).", e);
            }
            MakeGlobal(path);
            return new MpiLibrary(handle, path);
        }
        foreach (var name in launch.LibraryCandidates())
            if (NativeLibrary.TryLoad(name, out nint handle))
            {
                MakeGlobal(name);
                return new MpiLibrary(handle, name);
            }
        throw new MpiException($"This process was started by {launch}, but no MPI library could be loaded (tried {string.Join(", ", launch.LibraryCandidates())}). Install Open MPI (Debian: openmpi-bin) or MPICH (mpich), or set {MpiLaunch.LibraryVariable} to the path of libmpi.");
    }

    /// <summary>
    /// Re-opens the loaded library with RTLD_GLOBAL (and RTLD_NOLOAD: it is already loaded). NativeLibrary
    /// loads with RTLD_LOCAL, but an Open MPI built with its components as separate plug-ins opens them
    /// with dlopen, and they expect libmpi's symbols in the global scope (mpi4py loads libmpi globally for
    /// the same reason). Debian's Open MPI 4.1 is global after MPI_Init even without this; MPICH 4.0 is
    /// not (the check program tests the global scope under both). Best effort: where no dlopen is found
    /// the library stays local.
    /// </summary>
    static void MakeGlobal(string name)
    {
        const int RtldNow = 2, RtldNoLoad = 4, RtldGlobal = 0x100;
        nint dlopen = 0;
        foreach (var libc in new[] { "libc.so.6", "libdl.so.2" })     // glibc 2.34 moved dlopen into libc
            if (NativeLibrary.TryLoad(libc, out nint h) && NativeLibrary.TryGetExport(h, "dlopen", out dlopen)) break;
        if (dlopen == 0) return;
        var bytes = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* file = bytes)
            ((delegate* unmanaged<byte*, int, nint>)dlopen)(file, RtldNow | RtldNoLoad | RtldGlobal);
    }

    public bool IsInitialized() { int flag; Check(_initialized(&flag), "MPI_Initialized"); return flag != 0; }
    public bool IsFinalized() { int flag; Check(_finalized(&flag), "MPI_Finalized"); return flag != 0; }

    /// <summary>MPI_Init_thread without argc/argv (allowed since MPI-2); returns the level provided.</summary>
    public MpiThreadLevel InitThread(MpiThreadLevel required)
    {
        int provided;
        Check(_initThread(null, null, (int)required, &provided), "MPI_Init_thread");
        return (MpiThreadLevel)provided;
    }

    public void FinalizeMpi() => Check(_finalize(), "MPI_Finalize");
    public int CommRank() { int r; Check(_commRank(Abi.CommWorld, &r), "MPI_Comm_rank"); return r; }
    public int CommSize() { int n; Check(_commSize(Abi.CommWorld, &n), "MPI_Comm_size"); return n; }

    /// <summary>Errors on MPI_COMM_WORLD come back as codes instead of ending the process.</summary>
    public void ReturnErrors() => Check(_setErrorHandler(Abi.CommWorld, Abi.ErrorsReturn), "MPI_Comm_set_errhandler");

    /// <summary>In-place MPI_Allreduce on MPI_COMM_WORLD.</summary>
    public void AllreduceInPlace(void* buffer, int count, nint datatype, nint op) =>
        Check(_allreduce((void*)Abi.InPlace, buffer, count, datatype, op, Abi.CommWorld), "MPI_Allreduce");

    public void Bcast(void* buffer, int count, nint datatype, int root) =>
        Check(_bcast(buffer, count, datatype, root, Abi.CommWorld), "MPI_Bcast");

    public void Allgather(void* send, int count, nint datatype, void* receive) =>
        Check(_allgather(send, count, datatype, receive, count, datatype, Abi.CommWorld), "MPI_Allgather");

    public void Allgatherv(void* send, int count, nint datatype, void* receive, int* counts, int* displacements) =>
        Check(_allgatherv(send, count, datatype, receive, counts, displacements, datatype, Abi.CommWorld), "MPI_Allgatherv");

    public void Barrier() => Check(_barrier(Abi.CommWorld), "MPI_Barrier");

    /// <summary>MPI_Abort on MPI_COMM_WORLD: ends every rank of the job with <paramref name="code"/>.</summary>
    public int Abort(int code) => _abort(Abi.CommWorld, code);

    /// <summary>MPI's text for an error code.</summary>
    public string ErrorText(int code)
    {
        byte* text = stackalloc byte[1024];     // MPI_MAX_ERROR_STRING: 256 in Open MPI, 512 in MPICH
        int length = 0;
        if (_errorString(code, text, &length) != 0) return "(no text for this code)";
        return Encoding.UTF8.GetString(text, Math.Clamp(length, 0, 1024)).TrimEnd('\0', ' ', '\n');
    }

    void Check(int code, string function)
    {
        if (code != 0) throw new MpiException(function, code, ErrorText(code));
    }

    static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
