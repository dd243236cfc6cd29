using GbaEngine.Collectives;

namespace GbaEngine.Distributed;

/// <summary>The group of processes this one was started in.</summary>
public static class ProcessGroup
{
    /// <summary>
    /// <see cref="SingleProcessCommunicator.Instance"/> for a plain process or a one-rank job, which never
    /// load libmpi; otherwise MPI initialised for the launch <see cref="MpiLaunch.Detect()"/> found. Dispose
    /// the result when done (every rank: it finalises MPI).
    /// </summary>
    public static Communicator Join(MpiThreadLevel required = MpiThreadLevel.Serialized) =>
        MpiLaunch.Detect() is { } launch ? MpiCommunicator.Initialize(launch, required) : SingleProcessCommunicator.Instance;
}
