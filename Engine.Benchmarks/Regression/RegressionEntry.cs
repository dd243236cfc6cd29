namespace GbaEngine.Benchmarks.Regression;

/// <summary>
/// One benchmark of a suite: a fixed workload, built (and warmed up) by the constructor, then timed
/// operation by operation. An entry whose operation changes its own state (a training step) puts the
/// state back in <see cref="Reset"/>, so every sample times the same work from the same start.
/// </summary>
internal abstract class RegressionEntry : IDisposable
{
    /// <summary>The stable name results are paired by; never reused for a different workload.</summary>
    public abstract string Name { get; }

    /// <summary>What one operation produces ("GFLOP", "tokens", "GB").</summary>
    public abstract string WorkUnit { get; }

    /// <summary>Work of one <see cref="Run"/>, in <see cref="WorkUnit"/>.</summary>
    public abstract double WorkPerOp { get; }

    /// <summary>Threads the engine is asked to use: the CPU clock divides process CPU time by it.</summary>
    public abstract int Threads { get; }

    /// <summary>Shape and state of the workload, recorded with its samples.</summary>
    public abstract IReadOnlyDictionary<string, string> Parameters { get; }

    /// <summary>Untimed: back to the fixed starting state (no-op for stateless work).</summary>
    public virtual void Reset() { }

    /// <summary>One operation.</summary>
    public abstract void Run();

    public virtual void Dispose() { }
}
