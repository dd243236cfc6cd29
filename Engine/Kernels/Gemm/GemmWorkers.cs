// A fixed set of worker threads for SgemmContext: part 0 runs on the caller, parts 1..T-1 on
// dedicated threads that wait on a semaphore between calls. Unlike Parallel.For this allocates
// nothing per call, and part i always runs the same fixed share of the work. Completion is signalled
// on per-worker semaphores rather than a CountdownEvent, whose event lazily allocates a lock object
// the first time a wait really blocks (seen as 24 stray bytes in a steady-state call).
using System.Runtime.ExceptionServices;

namespace GbaEngine.Kernels.Gemm;

/// <summary>One call's work, split into a fixed number of parts.</summary>
internal abstract class GemmPartWork
{
    public abstract void Run(int part);
}

internal sealed class GemmWorkers : IDisposable
{
    readonly Thread[] _threads;
    readonly SemaphoreSlim[] _go;
    readonly SemaphoreSlim[] _done;
    GemmPartWork? _work;
    ExceptionDispatchInfo? _error;
    volatile bool _stopping;

    public GemmWorkers(int parts)
    {
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

    /// <summary>Runs work.Run(0 .. parts-1) and returns when all parts finished; rethrows the first failure.</summary>
    public void Run(GemmPartWork work)
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
}
