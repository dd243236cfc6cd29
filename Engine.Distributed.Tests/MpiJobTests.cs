using Xunit.Abstractions;
using GbaEngine.Collectives;

namespace GbaEngine.Distributed.Tests;

/// <summary>
/// The binding under real launchers: Open MPI's mpirun (--oversubscribe, loopback/shared memory) and
/// MPICH's Hydra, with 2 and 3 ranks. Every rank runs every collective check and prints its count;
/// a killed or throwing rank must end the whole job non-zero within seconds. One class, so the jobs
/// run one after another rather than crowding the machine at once.
/// </summary>
public class MpiJobTests(ITestOutputHelper log)
{
    static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);
    /// <summary>From the failing rank's last line to the job's end. mpirun and Hydra take about a second here.</summary>
    const double FailureToExitLimit = 20;

    [MpiFact(MpiKind.OpenMpi)]
    public void OpenMpiTwoRanksPassEveryCheck() => CollectivesPass(MpiKind.OpenMpi, 2);

    [MpiFact(MpiKind.OpenMpi)]
    public void OpenMpiThreeRanksPassEveryCheck() => CollectivesPass(MpiKind.OpenMpi, 3, expectLibrary: "libmpi.so.40");

    [MpiFact(MpiKind.Mpich)]
    public void MpichTwoRanksPassEveryCheck() => CollectivesPass(MpiKind.Mpich, 2, expectLibrary: "libmpich.so.12");

    /// <summary>The library chosen by path (GBA_MPI_LIBRARY), as on a machine with several MPIs.</summary>
    [MpiFact(MpiKind.Mpich)]
    public void MpichThreeRanksByLibraryPathPassEveryCheck()
    {
        string path = MpiRunner.SharedLibrary("libmpich.so.12") ?? throw new InvalidOperationException("mpiexec.mpich is installed but ldconfig knows no libmpich.so.12");
        CollectivesPass(MpiKind.Mpich, 3, new Dictionary<string, string> { [MpiLaunch.LibraryVariable] = path }, expectLibrary: path);
    }

    [MpiFact(MpiKind.OpenMpi)]
    public void OpenMpiKilledRankEndsTheJob() => FailureEndsJob(MpiKind.OpenMpi, 3, "die");

    [MpiFact(MpiKind.OpenMpi)]
    public void OpenMpiThrowingRankAbortsTheJob() => FailureEndsJob(MpiKind.OpenMpi, 2, "throw");

    [MpiFact(MpiKind.Mpich)]
    public void MpichKilledRankEndsTheJob() => FailureEndsJob(MpiKind.Mpich, 3, "die");

    [MpiFact(MpiKind.Mpich)]
    public void MpichThrowingRankAbortsTheJob() => FailureEndsJob(MpiKind.Mpich, 2, "throw");

    /// <summary>MPICH's library under Open MPI's launcher initialises as a job of one: refused with a message that says what to set.</summary>
    [MpiFact(MpiKind.OpenMpi, MpiKind.Mpich)]
    public void LibraryOfAnotherMpiIsRefused()
    {
        string path = MpiRunner.SharedLibrary("libmpich.so.12") ?? throw new InvalidOperationException("ldconfig knows no libmpich.so.12");
        var dir = Directory.CreateTempSubdirectory("gba-mpi-");
        try
        {
            var job = MpiRunner.Launch(MpiKind.OpenMpi, 2, ["collectives", dir.FullName], JobTimeout,
                new Dictionary<string, string> { [MpiLaunch.LibraryVariable] = path });
            Assert.True(job.ExitCode != 0, job.ToString());
            Assert.Contains("sees rank 0 of 1: it is not the launcher's MPI library. Set GBA_MPI_LIBRARY", job.Output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void PlainProcessLoadsNoMpiLibrary()
    {
        var job = MpiRunner.RunPlain("plain");
        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Contains("plain: SingleProcessCommunicator, rank 0 of 1, MPI libraries mapped: 0", job.Output);
    }

    /// <summary>The same checks on the group of one, in this process.</summary>
    [Fact]
    public void SingleProcessPassesEveryCheck()
    {
        var dir = Directory.CreateTempSubdirectory("gba-mpi-");
        try
        {
            Assert.True(new CollectiveChecks(SingleProcessCommunicator.Instance, dir.FullName).Run() > 50);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    void CollectivesPass(MpiKind kind, int ranks, IReadOnlyDictionary<string, string>? environment = null, string? expectLibrary = null)
    {
        var dir = Directory.CreateTempSubdirectory("gba-mpi-");
        try
        {
            var job = MpiRunner.Launch(kind, ranks, ["collectives", dir.FullName], JobTimeout, environment);
            Assert.True(job.ExitCode == 0, job.ToString());
            log.WriteLine($"{kind}, {ranks} ranks: every check passed in {job.Seconds:F1} s");
            for (int r = 0; r < ranks; r++)
            {
                var line = job.Output.Split('\n').SingleOrDefault(l => l.StartsWith($"rank {r} of {ranks}: ", StringComparison.Ordinal));
                Assert.True(line != null && line.Contains(" checks passed (") && (expectLibrary is null || line.Contains($"({expectLibrary})")),
                    $"rank {r}: no pass line{(expectLibrary is null ? "" : $" naming {expectLibrary}")}; {job}");
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    void FailureEndsJob(MpiKind kind, int ranks, string scenario)
    {
        string marker = $"rank {ranks - 1}: failing now";
        var job = MpiRunner.Launch(kind, ranks, [scenario], JobTimeout, marker: marker);
        Assert.True(job.ExitCode != 0, $"the job must fail; {job}");
        Assert.True(job.MarkerSeconds is not null, $"the last rank never reached its failure; {job}");
        Assert.DoesNotContain("still running after", job.Output);
        double afterFailure = job.Seconds - job.MarkerSeconds!.Value;
        log.WriteLine($"{kind}, {ranks} ranks, {scenario}: exit {job.ExitCode} {afterFailure:F2} s after the failing rank's last line");
        Assert.True(afterFailure < FailureToExitLimit, $"the job ended {afterFailure:F1} s after the failure (limit {FailureToExitLimit} s); {job}");
        if (scenario == "throw") Assert.Contains("planted failure on the last rank", job.Output);
    }
}
