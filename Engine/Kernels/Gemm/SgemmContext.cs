// The public SGEMM entry point: C[m x n] := alpha * op(A)[m x k] * op(B)[k x n] + beta * C,
// row-major with leading dimensions, op(X) = X or X^T; optionally with an epilogue per finished
// C block (IGemmEpilogue) or with no C at all (MultiplyFused: C exists only block by block in
// per-thread buffers, the shape the fused SAE encoder needs: Z = X W^T never written whole).
// A context owns the kernel choice, the worker threads and every packing buffer, so a call in a
// training loop allocates nothing once the buffers have grown to the largest shape seen.
// Threading: C is split into Threads fixed parts along n (multiples of NR) when n has at least one
// NR panel per thread, else along m (multiples of MR). The split depends only on (m, n, threads),
// and every element is computed by the same operations wherever it falls (see SgemmDriver), so
// results are bitwise identical for every thread count. Splitting n first means no operand is
// packed twice: each thread packs only its own columns of op(B), and op(A) is packed once per NC
// panel either way.
// Not thread-safe: one call at a time per context (use one context per concurrent caller).
using GbaEngine.Memory;
using GbaEngine.Threading;

namespace GbaEngine.Kernels.Gemm;

/// <summary>Whether a GEMM operand is used as stored or transposed.</summary>
internal enum GemmTranspose
{
    NoTranspose = 0,
    Transpose = 1,
}

/// <summary>Reusable SGEMM workspace: kernel set, worker threads and packing buffers.</summary>
internal sealed unsafe class SgemmContext : IDisposable
{
    readonly WorkerPool _workers;
    readonly bool _ownsWorkers;
    readonly ThreadBuffers[] _buffers;
    readonly Dictionary<Type, PartWork> _work = new();

    /// <summary>threads: worker count (the caller's thread is one of them); kernels: the kernel set,
    /// by default <see cref="KernelSelector.Current"/>.</summary>
    public SgemmContext(int threads = 1, KernelSet? kernels = null)
        : this(new WorkerPool(threads), kernels, ownsWorkers: true)
    {
    }

    /// <summary>A context running on an existing pool (shared with other phases of the caller's work,
    /// so a training step keeps one set of threads); the pool is not disposed with the context.</summary>
    public SgemmContext(WorkerPool pool, KernelSet? kernels = null) : this(pool, kernels, ownsWorkers: false)
    {
    }

    SgemmContext(WorkerPool pool, KernelSet? kernels, bool ownsWorkers)
    {
        int threads = pool.Threads;
        var set = kernels ?? KernelSelector.Current;
        if (!KernelSelector.IsSupported(set))
            throw new PlatformNotSupportedException($"Kernel set {set} is not supported by this CPU.");
        Kernels = set;
        Threads = threads;
        _workers = pool;
        _ownsWorkers = ownsWorkers;
        _buffers = new ThreadBuffers[threads];
        for (int t = 0; t < threads; t++) _buffers[t] = new ThreadBuffers();
    }

    public int Threads { get; }

    public KernelSet Kernels { get; }

    /// <summary>Register tile (MR x NR) of the selected micro-kernel.</summary>
    public (int MR, int NR) Tile => Kernels switch
    {
        KernelSet.Avx512 => (SgemmKernelAvx512_14x32.MR, SgemmKernelAvx512_14x32.NR),
        KernelSet.Avx2 => (SgemmKernelAvx2_6x16.MR, SgemmKernelAvx2_6x16.NR),
        _ => (SgemmKernelScalar_4x8.MR, SgemmKernelScalar_4x8.NR),
    };

    /// <summary>C := alpha op(A) op(B) + beta C. a: m x k (lda) or, transposed, k x m; b: k x n (ldb)
    /// or, transposed, n x k; c: m x n (ldc). With beta == 0, C is never read.</summary>
    public void Multiply(GemmTranspose transA, GemmTranspose transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
        => Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, default(StoreEpilogue));

    /// <summary>As <see cref="Multiply(GemmTranspose, GemmTranspose, int, int, int, float, float*, int, float*, int, float, float*, int)"/>,
    /// calling epilogue on every finished block of C just before that block is stored, so what the
    /// epilogue writes into the block is what C receives (see IGemmEpilogue).</summary>
    public void Multiply<TEpilogue>(GemmTranspose transA, GemmTranspose transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc, TEpilogue epilogue)
        where TEpilogue : struct, IGemmEpilogue
    {
        if (c == null) throw new ArgumentNullException(nameof(c));
        CheckShape(transA, transB, m, n, k, lda, ldb);
        ArgumentOutOfRangeException.ThrowIfLessThan(ldc, Math.Max(1, n));
        Dispatch(new SgemmProblem(transA == GemmTranspose.Transpose, transB == GemmTranspose.Transpose,
            m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), epilogue);
    }

    /// <summary>Computes alpha op(A) op(B) block by block into per-thread scratch and hands each block
    /// to the epilogue; the product is never stored as a whole (the fused SAE encoder path).</summary>
    public void MultiplyFused<TEpilogue>(GemmTranspose transA, GemmTranspose transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, TEpilogue epilogue)
        where TEpilogue : struct, IGemmEpilogue
    {
        CheckShape(transA, transB, m, n, k, lda, ldb);
        Dispatch(new SgemmProblem(transA == GemmTranspose.Transpose, transB == GemmTranspose.Transpose,
            m, n, k, alpha, a, lda, b, ldb, 0f, null, 0), epilogue);
    }

    /// <summary>Bounds-checked span overload (a, b, c start at element (0, 0) of each matrix as stored).</summary>
    public void Multiply(GemmTranspose transA, GemmTranspose transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        CheckShape(transA, transB, m, n, k, lda, ldb);
        ArgumentOutOfRangeException.ThrowIfLessThan(ldc, Math.Max(1, n));
        CheckLength(a.Length, transA == GemmTranspose.Transpose ? k : m, transA == GemmTranspose.Transpose ? m : k, lda, nameof(a));
        CheckLength(b.Length, transB == GemmTranspose.Transpose ? n : k, transB == GemmTranspose.Transpose ? k : n, ldb, nameof(b));
        CheckLength(c.Length, m, n, ldc, nameof(c));
        if (m == 0 || n == 0) return;
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            // A zero-length span may pin to null; k == 0 never dereferences a or b.
            float dummy = 0;
            Multiply(transA, transB, m, n, k, alpha, pa == null ? &dummy : pa, lda, pb == null ? &dummy : pb, ldb,
                beta, pc, ldc);
        }
    }

    static void CheckShape(GemmTranspose transA, GemmTranspose transB, int m, int n, int k, int lda, int ldb)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfLessThan(lda, Math.Max(1, transA == GemmTranspose.Transpose ? m : k));
        ArgumentOutOfRangeException.ThrowIfLessThan(ldb, Math.Max(1, transB == GemmTranspose.Transpose ? k : n));
    }

    static void CheckLength(int length, int rows, int cols, int ld, string name)
    {
        long need = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * ld + cols;
        if (length < need)
            throw new ArgumentException($"Span {name} holds {length} floats; the {rows} x {cols} matrix with leading dimension {ld} needs {need}.", name);
    }

    void Dispatch<TEpilogue>(in SgemmProblem p, TEpilogue epilogue) where TEpilogue : struct, IGemmEpilogue
    {
        if (p.M == 0 || p.N == 0) return;
        switch (Kernels)
        {
            case KernelSet.Avx512: Run<SgemmKernelAvx512_14x32, TEpilogue>(p, epilogue); break;
            case KernelSet.Avx2: Run<SgemmKernelAvx2_6x16, TEpilogue>(p, epilogue); break;
            default: Run<SgemmKernelScalar_4x8, TEpilogue>(p, epilogue); break;
        }
    }

    void Run<TKernel, TEpilogue>(in SgemmProblem p, TEpilogue epilogue)
        where TKernel : struct, ISgemmMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        var blk = TKernel.Blocking;
        int mr = TKernel.MR, nr = TKernel.NR;
        bool splitN = (p.N + nr - 1) / nr >= Threads;
        int parts = Math.Min(Threads, splitN ? (p.N + nr - 1) / nr : (p.M + mr - 1) / mr);
        int ncMax = Math.Min(blk.NC, RoundUp(splitN ? (p.N + parts - 1) / parts + nr : p.N, nr));
        int mcMax = Math.Min(blk.MC, RoundUp(splitN ? p.M : (p.M + parts - 1) / parts + mr, mr));
        for (int t = 0; t < parts; t++)
            _buffers[t].EnsureCapacity((long)mcMax * p.K, (long)ncMax * p.K, (long)RoundUp(mcMax, mr) * blk.NE);

        var work = GetWork<TKernel, TEpilogue>();
        work.Set(p, epilogue, splitN, parts, _buffers);
        try
        {
            if (parts == 1) work.Run(0);
            else _workers.Run(work);
        }
        finally
        {
            work.Clear();
        }
    }

    GemmWork<TKernel, TEpilogue> GetWork<TKernel, TEpilogue>()
        where TKernel : struct, ISgemmMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        if (!_work.TryGetValue(typeof(GemmWork<TKernel, TEpilogue>), out var w))
            _work.Add(typeof(GemmWork<TKernel, TEpilogue>), w = new GemmWork<TKernel, TEpilogue>());
        return (GemmWork<TKernel, TEpilogue>)w;
    }

    static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    public void Dispose()
    {
        if (_ownsWorkers) _workers.Dispose();
    }

    /// <summary>One call's arguments, reused across calls (one instance per kernel x epilogue type).</summary>
    sealed class GemmWork<TKernel, TEpilogue> : PartWork
        where TKernel : struct, ISgemmMicroKernel
        where TEpilogue : struct, IGemmEpilogue
    {
        SgemmProblem _p;
        TEpilogue _epilogue;
        bool _splitN;
        int _parts;
        ThreadBuffers[] _buffers = [];

        public void Set(in SgemmProblem p, TEpilogue epilogue, bool splitN, int parts, ThreadBuffers[] buffers)
        {
            _p = p; _epilogue = epilogue; _splitN = splitN; _parts = parts; _buffers = buffers;
        }

        public void Clear() => _epilogue = default;

        public override void Run(int part)
        {
            if (part >= _parts) return;
            var epilogue = _epilogue;
            var buf = _buffers[part].View;
            if (_splitN)
            {
                var (n0, n1) = Threading.FixedPartition.Range(_p.N, _parts, part, TKernel.NR);
                if (n0 < n1) SgemmDriver<TKernel>.Run(_p, 0, _p.M, n0, n1, buf, ref epilogue, part);
            }
            else
            {
                var (m0, m1) = Threading.FixedPartition.Range(_p.M, _parts, part, TKernel.MR);
                if (m0 < m1) SgemmDriver<TKernel>.Run(_p, m0, m1, 0, _p.N, buf, ref epilogue, part);
            }
        }
    }

    /// <summary>One thread's packing buffers; grown on demand, never shrunk.</summary>
    sealed class ThreadBuffers
    {
        AlignedArray? _a, _b, _block;

        public void EnsureCapacity(long a, long b, long block)
        {
            Grow(ref _a, a);
            Grow(ref _b, b);
            Grow(ref _block, block);
        }

        static void Grow(ref AlignedArray? array, long length)
        {
            // At least one line so every pointer is valid even for k == 0.
            length = Math.Max(length, 16);
            if (array is null || array.Length < length) array = new AlignedArray(length);
        }

        public SgemmBuffers View => new(_a!.Pointer, _b!.Pointer, _block!.Pointer);
    }
}
