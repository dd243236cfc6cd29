// A fixed set of worker threads: part 0 runs on the caller, parts 1..T-1 on dedicated threads that
// wait on a semaphore between calls. Unlike Parallel.For (used by FixedPartition for cold paths) this
// allocates nothing per call, which is what lets a training step run at 0 B, and part i always runs
// the same fixed share of the work. Completion is signalled on per-worker semaphores rather than a
// CountdownEvent, whose event lazily allocates a lock object the first time a wait really blocks
// (seen as 24 stray bytes in a steady-state call).
using System.Runtime.ExceptionServices;

namespace GbaEngine.Threading;

/// <summary>One call's work, split into a fixed number of parts.</summary>
internal abstract class PartWork
{
    public abstract void Run(int part);
}

/// <summary>A loop body over a contiguous range; a struct so the pool can call it without boxing.</summary>
internal interface IRangeJob
{
    void Run(int part, int start, int end);
}

/// <summary>Fixed worker threads that run <see cref="PartWork"/> or range jobs without allocating.
/// One call at a time: the pool is not re-entrant and not for concurrent callers.</summary>
internal sealed class WorkerPool : IDisposable
{
    readonly Thread[] _threads;
    readonly SemaphoreSlim[] _go;
    readonly SemaphoreSlim[] _done;
    PartWork? _work;
    readonly Dictionary<Type, PartWork> _rangeWork = new();
    ExceptionDispatchInfo? _error;
    volatile bool _stopping;

    public WorkerPool(int parts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        Threads = parts;
        var workers = parts - 1;
        _threads = new Thread[workers];
        _go = new SemaphoreSlim[workers];
        _done = new SemaphoreSlim[workers];
        for (int w = 0; w < workers; w++)
        {
            _go[w] = new SemaphoreSlim(0);
            _done[w] = new SemaphoreSlim(0);
            var part = w + 1;
            _threads[w] = new Thread(() => Loop(part)) { IsBackground = true, Name = $"gba-gemm-{part}" };
            _threads[w].Start();
        }
    }

    /// <summary>Number of parts (the caller's thread included).</summary>
    public int Threads { get; }

    /// <summary>Runs job over the fixed split of [0, count) (see <see cref="FixedPartition.Range"/>),
    /// one part per thread; serially on the caller when there is one part or too little work.</summary>
    public void For<TJob>(int count, in TJob job, int granule = 1) where TJob : struct, IRangeJob
    {
        if (count <= 0) return;
        if (Threads == 1 || count <= granule)
        {
            var local = job;
            local.Run(0, 0, count);
            return;
        }
        if (!_rangeWork.TryGetValue(typeof(TJob), out var w))
            _rangeWork.Add(typeof(TJob), w = new RangeWork<TJob>());
        var work = (RangeWork<TJob>)w;
        work.Set(count, Threads, granule, job);
        try
        {
            Run(work);
        }
        finally
        {
            work.Job = default;
        }
    }

    /// <summary>Runs work.Run(0 .. parts-1) and returns when all parts finished; rethrows the first failure.</summary>
    public void Run(PartWork work)
    {
        ObjectDisposedException.ThrowIf(_stopping, this);
        _work = work;
        _error = null;
        foreach (var go in _go) go.Release();
        try
        {
            work.Run(0);
        }
        catch (Exception e)
        {
            _error ??= ExceptionDispatchInfo.Capture(e);
        }
        foreach (var done in _done) done.Wait();
        _work = null;
        _error?.Throw();
    }

    void Loop(int part)
    {
        var go = _go[part - 1];
        var done = _done[part - 1];
        while (true)
        {
            go.Wait();
            if (_stopping) return;
            try
            {
                _work!.Run(part);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(e), null);
            }
            finally
            {
                done.Release();
            }
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        foreach (var go in _go) go.Release();
        foreach (var t in _threads) t.Join();
        foreach (var go in _go) go.Dispose();
        foreach (var done in _done) done.Dispose();
    }

    sealed class RangeWork<TJob> : PartWork where TJob : struct, IRangeJob
    {
        int _count, _parts, _granule;
        public TJob Job;

        public void Set(int count, int parts, int granule, in TJob job)
        {
            _count = count; _parts = parts; _granule = granule; Job = job;
        }

        public override void Run(int part)
        {
            var (s, e) = FixedPartition.Range(_count, _parts, part, _granule);
            if (s >= e) return;
            var job = Job;
            job.Run(part, s, e);
        }
    }
}
