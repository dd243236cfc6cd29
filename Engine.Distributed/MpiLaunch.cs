// Whether this process was started as one of several ranks of an MPI job, read from the variables
// the launchers put in each rank's environment. Nothing here loads libmpi: a plain process (or a
// one-rank job) never touches it.
using System.Globalization;

namespace GbaEngine.Distributed;

/// <summary>Which MPI family's library to try first (the launcher's own).</summary>
public enum MpiFamily
{
    /// <summary>Open MPI (handles are addresses of exported globals).</summary>
    OpenMpi,
    /// <summary>MPICH and the libraries sharing its ABI (Intel MPI, MVAPICH, Cray MPICH): integer handles.</summary>
    Mpich,
}

/// <summary>
/// How this process was launched: by which launcher, as which rank of how many (when the launcher
/// says), and which library to load. <see cref="Detect()"/> returns null for a plain process and for
/// a job of one rank, which then run without MPI.
/// </summary>
/// <param name="Launcher">What started the process, for messages (e.g. "Open MPI mpirun").</param>
/// <param name="Size">Number of ranks, when the environment says; null when only MPI itself can tell.</param>
/// <param name="Rank">This process's rank, when the environment says.</param>
/// <param name="Family">The family whose library is tried first.</param>
/// <param name="LibraryPath">The library to load instead of probing (<see cref="LibraryVariable"/>), or null.</param>
public sealed record MpiLaunch(string Launcher, int? Size, int? Rank, MpiFamily Family, string? LibraryPath)
{
    /// <summary>Environment variable naming the libmpi to load (a path or a file name), overriding the probe.</summary>
    public const string LibraryVariable = "GBA_MPI_LIBRARY";

    /// <summary>The launch of this process, from its environment (null: not an MPI job of two or more ranks).</summary>
    public static MpiLaunch? Detect() => Detect(Environment.GetEnvironmentVariable);

    /// <summary>
    /// The launch described by <paramref name="variable"/> (an environment lookup). Recognised, in order:
    /// Open MPI's mpirun (OMPI_COMM_WORLD_SIZE/RANK); a PMI launcher such as MPICH's Hydra or
    /// <c>srun --mpi=pmi2</c> (PMI_SIZE/RANK); a PMIx launcher such as <c>srun --mpi=pmix</c> (PMIX_RANK,
    /// with the size from Slurm when present); and a plain Slurm job step of several tasks
    /// (SLURM_STEP_NUM_TASKS, SLURM_PROCID). Slurm's SLURM_NTASKS alone is not a launch: a batch script
    /// sees it too while it runs as one process (tools/slurm/gba-sweep.sbatch runs <c>gba train</c> so).
    /// </summary>
    public static MpiLaunch? Detect(Func<string, string?> variable)
    {
        string? library = variable(LibraryVariable) is { Length: > 0 } path ? path : null;
        MpiLaunch? Launch(string launcher, int? size, int? rank, MpiFamily family)
        {
            if (size < 1 || rank >= size)
                throw new InvalidOperationException($"The environment ({launcher}) makes this process rank {rank?.ToString() ?? "?"} of {size}: not a rank of a job.");
            return size == 1 ? null : new MpiLaunch(launcher, size, rank, family, library);
        }

        if (Count(variable, "OMPI_COMM_WORLD_SIZE") is { } ompiSize)
            return Launch("Open MPI mpirun", ompiSize, Count(variable, "OMPI_COMM_WORLD_RANK"), MpiFamily.OpenMpi);
        if (Count(variable, "PMI_SIZE") is { } pmiSize)
            return Launch("a PMI launcher (MPICH Hydra or srun --mpi=pmi2)", pmiSize, Count(variable, "PMI_RANK"), MpiFamily.Mpich);
        int? slurmSize = Count(variable, "SLURM_STEP_NUM_TASKS");
        if (Count(variable, "PMIX_RANK") is { } pmixRank)
            return Launch("a PMIx launcher (srun --mpi=pmix or prterun)", slurmSize, pmixRank, MpiFamily.OpenMpi);
        if (slurmSize is { } tasks)
            return Launch("Slurm srun", tasks, Count(variable, "SLURM_PROCID"), MpiFamily.OpenMpi);
        return null;
    }

    /// <summary>The library names to try, the launcher's family first (the unversioned name last:
    /// only development packages install it).</summary>
    public IReadOnlyList<string> LibraryCandidates() =>
        LibraryPath is { } path ? [path]
        : Family == MpiFamily.OpenMpi ? ["libmpi.so.40", "libmpi.so.12", "libmpich.so.12", "libmpi.so"]
        : ["libmpich.so.12", "libmpi.so.12", "libmpi.so.40", "libmpi.so"];

    /// <summary>"Open MPI mpirun, 3 ranks" and the like.</summary>
    public override string ToString() => $"{Launcher}, {(Size is { } n ? $"{n} ranks" : "ranks unknown")}";

    static int? Count(Func<string, string?> variable, string name)
    {
        string? text = variable(name);
        if (string.IsNullOrEmpty(text)) return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value))
            throw new InvalidOperationException($"The environment variable {name} is \"{text}\", not a non-negative integer: cannot tell how this process was launched.");
        return value;
    }
}
