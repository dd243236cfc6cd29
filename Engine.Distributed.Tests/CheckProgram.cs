using System.Diagnostics;
using GbaEngine.Collectives;

namespace GbaEngine.Distributed.Tests;

/// <summary>
/// The program the tests start under mpirun (this test assembly run with <c>dotnet</c>):
/// <list type="bullet">
/// <item><c>collectives DIR</c>: every collective checked on every rank (<see cref="CollectiveChecks"/>), DIR for the barrier's markers.</item>
/// <item><c>die</c> / <c>throw</c>: the last rank is killed (SIGKILL) or throws mid-run while the others
/// keep reducing; the job must end non-zero within seconds, not hang.</item>
/// <item><c>train DIR</c>: the sharded trainer's runs (<see cref="ShardedTraining.Check"/>), rank 0 writing them to DIR.</item>
/// <item><c>plain</c>: started without a launcher, joins no MPI and maps no MPI library.</item>
/// </list>
/// </summary>
public static class CheckProgram
{
    /// <summary>How long the surviving ranks of <c>die</c>/<c>throw</c> keep reducing before giving up
    /// and exiting 0 (which the tests count as a failure: the job was not ended).</summary>
    public static readonly TimeSpan SurvivorLimit = TimeSpan.FromSeconds(60);

    public static int Main(string[] args)
    {
        string scenario = args.Length > 0 ? args[0] : "";
        return scenario switch
        {
            "collectives" when args.Length == 2 => InGroup(comm =>
            {
                int passed = new CollectiveChecks(comm, args[1]).Run();
                Console.WriteLine($"rank {comm.Rank} of {comm.Size}: {passed} checks passed ({comm})");
                return 0;
            }),
            "train" when args.Length == 2 => InGroup(comm =>
            {
                int passed = ShardedTraining.Check(comm, args[1]);
                Console.WriteLine($"rank {comm.Rank} of {comm.Size}: {passed} training checks passed");
                return 0;
            }),
            "die" => InGroup(comm => FailOnLastRank(comm, () => Process.GetCurrentProcess().Kill())),
            "throw" => InGroup(comm => FailOnLastRank(comm, () => throw new InvalidOperationException("planted failure on the last rank"))),
            "plain" => Plain(),
            _ => Usage(),
        };
    }

    static int InGroup(Func<Communicator, int> body)
    {
        using var comm = ProcessGroup.Join();
        return comm is MpiCommunicator mpi ? mpi.RunOrAbort(() => body(comm)) : body(comm);
    }

    /// <summary>Every rank reduces in a loop; the last rank fails at its 20th reduction.</summary>
    static int FailOnLastRank(Communicator comm, Action fail)
    {
        var values = new float[1000];
        var clock = Stopwatch.StartNew();
        for (int i = 0; clock.Elapsed < SurvivorLimit; i++)
        {
            if (i == 20 && comm.Rank == comm.Size - 1)
            {
                Console.WriteLine($"rank {comm.Rank}: failing now");
                fail();
            }
            comm.AllReduce(values, ReduceOperation.Sum);
        }
        Console.WriteLine($"rank {comm.Rank}: still running after {SurvivorLimit.TotalSeconds} s; the failed rank did not end the job");
        return 0;
    }

    static int Plain()
    {
        var comm = ProcessGroup.Join();
        var mapped = File.ReadAllLines("/proc/self/maps").Where(l => l.Contains("libmpi", StringComparison.Ordinal) || l.Contains("libmpich", StringComparison.Ordinal)).ToArray();
        Console.WriteLine($"plain: {comm.GetType().Name}, rank {comm.Rank} of {comm.Size}, MPI libraries mapped: {mapped.Length}");
        foreach (var line in mapped.Take(3)) Console.WriteLine(line);
        return comm is SingleProcessCommunicator && mapped.Length == 0 ? 0 : 1;
    }

    static int Usage()
    {
        Console.Error.WriteLine("usage: Engine.Distributed.Tests collectives DIR | train DIR | die | throw | plain");
        return 2;
    }
}
