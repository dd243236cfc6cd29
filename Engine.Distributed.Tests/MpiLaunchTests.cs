namespace GbaEngine.Distributed.Tests;

/// <summary>Launch detection from the environment each launcher sets (no MPI needed).</summary>
public class MpiLaunchTests
{
    static MpiLaunch? Detect(params (string Name, string Value)[] variables)
    {
        var env = variables.ToDictionary(v => v.Name, v => v.Value);
        return MpiLaunch.Detect(name => env.GetValueOrDefault(name));
    }

    [Fact]
    public void PlainProcessIsNoLaunch() => Assert.Null(Detect());

    [Fact]
    public void OpenMpiMpirun()
    {
        var launch = Detect(("OMPI_COMM_WORLD_SIZE", "3"), ("OMPI_COMM_WORLD_RANK", "2"), ("PMIX_RANK", "2"));
        Assert.Equal(new MpiLaunch("Open MPI mpirun", 3, 2, MpiFamily.OpenMpi, null), launch);
        Assert.Equal("libmpi.so.40", launch!.LibraryCandidates()[0]);
    }

    [Fact]
    public void HydraTriesMpichFirst()
    {
        var launch = Detect(("PMI_SIZE", "2"), ("PMI_RANK", "1"));
        Assert.Equal((2, 1, MpiFamily.Mpich), (launch!.Size!.Value, launch.Rank!.Value, launch.Family));
        Assert.Equal("libmpich.so.12", launch.LibraryCandidates()[0]);
    }

    [Fact]
    public void SrunWithPmixTakesTheSizeFromSlurm()
    {
        var launch = Detect(("PMIX_RANK", "5"), ("SLURM_STEP_NUM_TASKS", "16"), ("SLURM_PROCID", "5"), ("SLURM_NTASKS", "16"));
        Assert.Equal((16, 5), (launch!.Size!.Value, launch.Rank!.Value));
    }

    [Fact]
    public void PmixWithoutSizeLeavesTheSizeToMpi()
    {
        var launch = Detect(("PMIX_RANK", "0"));
        Assert.NotNull(launch);
        Assert.Null(launch.Size);
    }

    [Fact]
    public void SrunStepOfSeveralTasks() =>
        Assert.Equal(8, Detect(("SLURM_STEP_NUM_TASKS", "8"), ("SLURM_PROCID", "3"))!.Size);

    /// <summary>A batch script sees the allocation's SLURM_NTASKS while it runs as one process (the sweep script runs gba so).</summary>
    [Fact]
    public void SlurmBatchScriptIsNoLaunch() => Assert.Null(Detect(("SLURM_NTASKS", "4"), ("SLURM_PROCID", "0"), ("SLURM_JOB_ID", "7")));

    [Fact]
    public void OneRankJobRunsWithoutMpi()
    {
        Assert.Null(Detect(("OMPI_COMM_WORLD_SIZE", "1"), ("OMPI_COMM_WORLD_RANK", "0")));
        Assert.Null(Detect(("SLURM_STEP_NUM_TASKS", "1"), ("SLURM_PROCID", "0")));
    }

    [Fact]
    public void LibraryVariableOverridesTheProbe()
    {
        var launch = Detect(("OMPI_COMM_WORLD_SIZE", "2"), (MpiLaunch.LibraryVariable, "/opt/mpi/lib/libmpi.so.40"));
        Assert.Equal(["/opt/mpi/lib/libmpi.so.40"], launch!.LibraryCandidates());
    }

    [Theory]
    [InlineData("OMPI_COMM_WORLD_SIZE", "two")]
    [InlineData("PMI_SIZE", "-1")]
    [InlineData("OMPI_COMM_WORLD_SIZE", "0")]
    public void MalformedVariablesAreNamed(string name, string value)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Detect((name, value)));
        Assert.Contains(value, e.Message);
    }
}
