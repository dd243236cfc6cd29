using GbaEngine.Collectives;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Sparse;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;

namespace GbaEngine.Training;

/// <summary>
/// Decoder, loss and every gradient from the sparse code alone (O(L0·d) per token, never O(M·d)).
/// With e_t = x̂_t - x_t, g_tm = e_t·w_m, f_tm = a_m h_tm and the batch mean 1/B:
///   ∂L/∂w_m (decoder)  = Σ_t f_tm e_t / B
///   ∂L/∂u_m (encoder)  = Σ_t g_tm a_m (x_t - b_pre) / B        (tied: u = w, both paths summed)
///   ∂L/∂a_m            = Σ_t g_tm h_tm / B
///   ∂L/∂b_pre          = Σ_t e_t / B - Σ_m a_m (Σ_t g_tm / B) u_m
///   ∂L/∂b_m (ReLU, TopK)= Σ_t g_tm a_m / B                     (GBA/BA never train b by gradient:
///                                                               the trainer leaves b out of AdamW)
/// The gate's own derivative is zero almost everywhere (JumpReLU) or folded into "active" (ReLU).
///
/// Both passes are blocked over neurons so the weight rows they touch stay in the core's L2 while
/// the token rows stream past in order (sequential, so the hardware prefetcher fetches them):
/// gathering a random 3 KB weight row from L3 per active entry was the cost of the unblocked passes.
/// Decode runs over fixed token ranges; each token adds its entries block by block, in neuron
/// order. Gradients run over fixed neuron ranges; within a block every token, in order, adds its
/// entries to the block's gradient rows. So each row's sum keeps one order fixed by the data alone,
/// whatever the block size and thread count; only the loss and b_pre's gradient add per-thread
/// partial sums (deterministic per thread count). Both passes need each token's entries in ascending
/// neuron order, as the encoders emit them; Decode sorts any token whose entries are not, in place.
/// </summary>
internal sealed class SparseBackward : IDisposable
{
    readonly SaeArchitecture _arch;
    readonly SaeParameters _p;
    readonly int _threads;
    readonly WorkerPool _pool;
    readonly bool _ownsPool;
    readonly double[] _lossParts;
    readonly AlignedArray _errSumParts;   // [threads × Stride] Σ e_t per token part
    readonly AlignedArray _preParts;      // [threads × Stride] -Σ a G u per neuron part
    readonly Scratch[] _scratch;          // per part: a token's coefficients and dots, per-token cursors, a block's sums
    readonly int _decodeBlock, _gradientBlock;

    /// <summary>The kernel set it runs (the trainer sets its own; default: the process's).</summary>
    internal KernelSet Kernels { get; set; } = KernelSelector.Current;

    /// <summary>
    /// The ranks sharing the neurons (docs/distributed.md): the parameters are this rank's rows only, the
    /// partial reconstructions and b_pre's gradient are summed over ranks, and every rank then holds the
    /// same error, loss and b_pre gradient. Default: the single process, whose passes never call it.
    /// </summary>
    internal Communicator Communicator { get; set; } = SingleProcessCommunicator.Instance;

    /// <summary>A backward pass with its own <paramref name="threads"/> worker threads.</summary>
    public SparseBackward(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, int threads)
        : this(arch, parameters, batchCapacity, new WorkerPool(Math.Max(1, threads)), ownsPool: true)
    {
    }

    /// <summary>A backward pass on the caller's pool (shared with the rest of a training step).</summary>
    public SparseBackward(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool)
        : this(arch, parameters, batchCapacity, pool, ownsPool: false)
    {
    }

    /// <summary>As the pool constructor with a fixed number of neurons per block in both passes
    /// (tests use small blocks so every block edge case occurs on small problems).</summary>
    internal SparseBackward(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, int blockNeurons)
        : this(arch, parameters, batchCapacity, pool, ownsPool: false, blockNeurons)
    {
    }

    /// <summary>As the pool constructor with blocks of <paramref name="blockBytes"/> of rows instead of
    /// the default (benchmarks compare block sizes on the machine at hand).</summary>
    internal static SparseBackward WithBlockBytes(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, long blockBytes) =>
        new(arch, parameters, batchCapacity, pool, ownsPool: false, blockBytes: blockBytes);

    SparseBackward(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, bool ownsPool, int blockNeurons = 0,
        long blockBytes = BlockBytes)
    {
        _arch = arch;
        _p = parameters;
        _pool = pool;
        _ownsPool = ownsPool;
        _threads = pool.Threads;
        Error = new AlignedArray((long)batchCapacity * parameters.Stride);
        _lossParts = new double[_threads];
        _errSumParts = new AlignedArray((long)_threads * parameters.Stride);
        _preParts = new AlignedArray((long)_threads * parameters.Stride);
        // Neurons per block: the block's weight rows (decode), or weight and gradient rows (two for
        // tied, three untied), within most of a 2 MB L2, leaving room for the streamed token rows.
        long rowBytes = (long)parameters.Stride * sizeof(float);
        _decodeBlock = blockNeurons > 0 ? blockNeurons : BlockNeurons(blockBytes, rowBytes);
        _gradientBlock = blockNeurons > 0 ? blockNeurons : BlockNeurons(blockBytes, rowBytes * (parameters.Tied ? 2 : 3));
        _scratch = new Scratch[_threads];
        for (int i = 0; i < _threads; i++) _scratch[i] = new Scratch(batchCapacity, arch.Neurons, _gradientBlock);
    }

    // Measured at d=768, M=16384, B=4096 on this machine's 2 MB L2: 0.9 MB blocks made the gradient
    // pass 15% slower than 1.8 MB ones; decode was flat over that range.
    const long BlockBytes = 1_792 * 1024;

    static int BlockNeurons(long blockBytes, long bytesPerNeuron) => (int)Math.Clamp(blockBytes / bytesPerNeuron, 16, 4096);

    /// <summary>[B × Stride] e_t = x̂_t - x_t of the last batch (normalised space).</summary>
    public AlignedArray Error { get; }

    /// <summary>Decodes the code, writes e_t and returns the mean loss 0.5·‖e‖² per token. Sorts
    /// each token's entries by neuron index in place where they are not already.</summary>
    public double Decode(AlignedArray x, int rows, SparseCode code) => Decode(x, rows, code, preBias: true);

    /// <summary>As <see cref="Decode(AlignedArray, int, SparseCode)"/>; without <paramref name="preBias"/> the
    /// reconstruction is Σ f_tm w_m alone (AuxK's ê, which predicts a residual, not a token).</summary>
    internal double Decode(AlignedArray x, int rows, SparseCode code, bool preBias)
    {
        Array.Clear(_lossParts);
        _errSumParts.Span.Clear();
        var comm = Communicator;
        if (comm.Size == 1) _pool.For(rows, new DecodeJob(this, x, code, preBias, finish: true), granule: 4);
        else
        {
            // This rank's share of x̂ (rank 0's starting from b_pre), summed over ranks: then every rank forms
            // the same e = x̂ - x, loss and Σe, over the same fixed token parts as one process.
            _pool.For(rows, new DecodeJob(this, x, code, preBias && comm.Rank == 0, finish: false), granule: 4);
            comm.AllReduce(Error.Span[..(rows * _p.Stride)], ReduceOperation.Sum);
            _pool.For(rows, new FinishJob(this, x), granule: 4);
        }
        double total = 0;
        for (int i = 0; i < _threads; i++) total += _lossParts[i];
        return rows == 0 ? 0 : total / rows;
    }

    /// <summary>Fills grad (same layout as the parameters) from the last Decode; Xc from the encoder.</summary>
    public void Gradients(AlignedArray xc, int rows, SparseCode code, SaeParameters grad)
    {
        var set = Kernels;
        int stride = _p.Stride;
        float invB = 1f / rows;
        _pool.For(_arch.Neurons, new NeuronJob(this, xc, rows, code, grad, invB, accumulate: false), granule: 16);

        var gPre = grad.PreBias;
        gPre.Clear();
        // Σe is the same on every rank (after Decode's sum), so rank 0 alone adds it; each rank adds its neurons' part.
        var comm = Communicator;
        if (comm.Rank == 0)
            for (int i = 0; i < _threads; i++) Blas1.Axpy(invB, _errSumParts.Span.Slice(i * stride, stride), gPre, set);
        for (int i = 0; i < _threads; i++) Blas1.Axpy(1f, _preParts.Span.Slice(i * stride, stride), gPre, set);
        if (comm.Size > 1) comm.AllReduce(gPre, ReduceOperation.Sum);
        gPre[_p.Dim..].Clear();
    }

    /// <summary>
    /// Adds to grad the gradient of c·Σ_t ‖r_t‖² / 2 for the last Decode run without b_pre, where
    /// r_t = Σ_m f_tm w_m − x_t is its <see cref="Error"/> and x_t a target that does not depend on the
    /// parameters: Gradients' formulas with 1/B replaced by <paramref name="coefficient"/> and without
    /// b_pre's direct term (the reconstruction has no b_pre), accumulated instead of overwritten.
    /// </summary>
    internal void AccumulateGradients(AlignedArray xc, int rows, SparseCode code, SaeParameters grad, float coefficient)
    {
        var set = KernelSelector.Current;
        int stride = _p.Stride;
        _pool.For(_arch.Neurons, new NeuronJob(this, xc, rows, code, grad, coefficient, accumulate: true), granule: 16);
        var gPre = grad.PreBias;
        for (int i = 0; i < _threads; i++) Blas1.Axpy(1f, _preParts.Span.Slice(i * stride, stride), gPre, set);
        gPre[_p.Dim..].Clear();
    }

    public void Dispose()
    {
        if (_ownsPool) _pool.Dispose();
    }

    /// <summary>
    /// Per token: x̂_t = b_pre + Σ f_tm w_m, then (with <c>finish</c>) e_t = x̂_t - x_t, the loss, and this part's Σ e_t. The
    /// decoder is walked a block of rows at a time; every token of the part adds its entries in that
    /// block, so a weight row is fetched from L3 once per block rather than once per entry.
    /// </summary>
    readonly unsafe struct DecodeJob(SparseBackward b, AlignedArray x, SparseCode code, bool preBias, bool finish) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = b.Kernels;
            var p = b._p;
            int stride = p.Stride, neurons = b._arch.Neurons, block = b._decodeBlock;
            float* e = b.Error.Pointer;
            var scale = p.Scale;
            var s = b._scratch[part];
            var f = s.Coef1;
            var cursor = s.Cursor;
            float* w = p.Data.Pointer + p.DecoderOffset;
            var index = code.Index;
            var rowStart = code.RowStart;
            for (int t = start; t < end; t++)
            {
                SortByNeuron(code, t);
                if (preBias) p.PreBias.CopyTo(new Span<float>(e + (long)t * stride, stride));
                else new Span<float>(e + (long)t * stride, stride).Clear();
                cursor[t] = rowStart[t];
            }
            for (int n1 = block; n1 - block < neurons; n1 += block)
                for (int t = start; t < end; t++)
                {
                    int c0 = cursor[t], c1 = c0, rowEnd = rowStart[t + 1];
                    while (c1 < rowEnd && index[c1] < n1) c1++;
                    if (c1 == c0) continue;
                    cursor[t] = c1;
                    var picked = index.AsSpan(c0, c1 - c0);
                    for (int r = 0; r < picked.Length; r++) f[r] = scale[picked[r]] * code.H[c0 + r];
                    RowGather.Accumulate(e + (long)t * stride, stride, w, stride, picked, f, overwrite: false, set);
                }
            if (finish) Finish(b, x, part, start, end);
        }
    }

    /// <summary>e_t = x̂_t - x_t for tokens [start, end) whose x̂_t is in <see cref="Error"/>, their loss and Σ e_t into part's slots.</summary>
    static unsafe void Finish(SparseBackward b, AlignedArray x, int part, int start, int end)
    {
        var set = b.Kernels;
        int stride = b._p.Stride;
        float* e = b.Error.Pointer;
        var xs = x.Span;
        var errSum = b._errSumParts.Span.Slice(part * stride, stride);
        double loss = 0;
        for (int t = start; t < end; t++)
        {
            var et = new Span<float>(e + (long)t * stride, stride);
            Blas1.Axpy(-1f, xs.Slice(t * stride, stride), et, set);
            loss += 0.5 * Blas1.Dot(et, et, set);
            Blas1.Axpy(1f, et, errSum, set);
        }
        b._lossParts[part] = loss;
    }

    /// <summary>A sharded Decode's second pass: the summed x̂ is in <see cref="Error"/>; form e, the loss and Σe.</summary>
    readonly struct FinishJob(SparseBackward b, AlignedArray x) : IRangeJob
    {
        public void Run(int part, int start, int end) => Finish(b, x, part, start, end);
    }

    /// <summary>Puts token t's entries in ascending neuron order (insertion sort: a sorted row costs
    /// one comparison per entry, and the encoders emit sorted rows).</summary>
    static void SortByNeuron(SparseCode code, int t)
    {
        var index = code.Index;
        var h = code.H;
        int r0 = code.RowStart[t], r1 = code.RowStart[t + 1];
        for (int r = r0 + 1; r < r1; r++)
        {
            int key = index[r];
            if (key >= index[r - 1]) continue;
            float value = h[r];
            int q = r - 1;
            while (q >= r0 && index[q] > key)
            {
                index[q + 1] = index[q];
                h[q + 1] = h[q];
                q--;
            }
            index[q + 1] = key;
            h[q + 1] = value;
        }
    }

    /// <summary>
    /// Over this part's neurons, a block at a time: the block's gradient rows start at zero and every
    /// token, in order, adds its entries in the block: g_tm = e_t·w_m, the weight rows' gradients
    /// (k1·e_t and k2·x_t into each row), and the running Σg and Σg·h per neuron. Then a's and b's
    /// gradients and this part's share of b_pre's. The block's weight and gradient rows stay in L2;
    /// each token's error and input rows are read once per block, in order.
    /// </summary>
    readonly unsafe struct NeuronJob(SparseBackward b, AlignedArray xc, int rows, SparseCode code, SaeParameters grad, float invB, bool accumulate) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = b.Kernels;
            var p = b._p;
            int stride = p.Stride, block = b._gradientBlock;
            bool reluBias = b._arch.EffectiveGate == SaeActivation.Relu;
            float* e = b.Error.Pointer, xcp = xc.Pointer;
            float* w = p.Data.Pointer + p.DecoderOffset;
            float* gd = grad.Data.Pointer + grad.DecoderOffset, ge = grad.Data.Pointer + grad.EncoderOffset;
            var scale = p.Scale;
            var pre = b._preParts.Span.Slice(part * stride, stride);
            pre.Clear();
            var s = b._scratch[part];
            var cursor = s.Cursor;
            var index = code.Index;
            var hs = code.H;
            var rowStart = code.RowStart;
            for (int t = 0; t < rows; t++) cursor[t] = FirstAtLeast(index, rowStart[t], rowStart[t + 1], start);
            for (int n0 = start; n0 < end; n0 += block)
            {
                int n1 = Math.Min(end, n0 + block);
                if (!accumulate)
                {
                    new Span<float>(gd + (long)n0 * stride, (n1 - n0) * stride).Clear();
                    if (!p.Tied) new Span<float>(ge + (long)n0 * stride, (n1 - n0) * stride).Clear();
                }
                s.SumG.AsSpan(0, n1 - n0).Clear();
                s.SumGH.AsSpan(0, n1 - n0).Clear();
                for (int t = 0; t < rows; t++)
                {
                    int c0 = cursor[t], c1 = c0, rowEnd = rowStart[t + 1];
                    while (c1 < rowEnd && index[c1] < n1) c1++;
                    if (c1 == c0) continue;
                    cursor[t] = c1;
                    int count = c1 - c0;
                    var picked = index.AsSpan(c0, count);
                    var g = s.G.AsSpan(0, count);
                    var k1 = s.Coef1.AsSpan(0, count);
                    var k2 = s.Coef2.AsSpan(0, count);
                    float* et = e + (long)t * stride, xt = xcp + (long)t * stride;
                    RowGather.Dots(et, stride, w, stride, picked, g, set);
                    for (int j = 0; j < count; j++)
                    {
                        int m = picked[j];
                        float a = scale[m], h = hs[c0 + j], gj = g[j];
                        k1[j] = a * h * invB;
                        k2[j] = gj * a * invB;
                        s.SumG[m - n0] += gj;
                        s.SumGH[m - n0] += gj * h;
                    }
                    if (p.Tied) RowScatter.Add2(gd, stride, picked, k1, et, k2, xt, stride, set);
                    else
                    {
                        RowScatter.Add(gd, stride, picked, k1, et, stride, set);
                        RowScatter.Add(ge, stride, picked, k2, xt, stride, set);
                    }
                }
                for (int n = n0; n < n1; n++)
                {
                    float a = scale[n], sumG = s.SumG[n - n0];
                    float gA = s.SumGH[n - n0] * invB, gB = reluBias ? a * sumG * invB : 0f;
                    if (accumulate) { grad.Scale[n] += gA; grad.Bias[n] += gB; }
                    else { grad.Scale[n] = gA; grad.Bias[n] = gB; }
                    if (sumG != 0) Blas1.Axpy(-a * sumG * invB, p.EncoderRow(n), pre, set);
                }
            }
        }

        /// <summary>The first entry of a sorted token row whose neuron is at least <paramref name="neuron"/>.</summary>
        static int FirstAtLeast(int[] index, int lo, int hi, int neuron)
        {
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (index[mid] < neuron) lo = mid + 1; else hi = mid;
            }
            return lo;
        }
    }

    /// <summary>One part's scratch: per-entry values of the token being processed, a cursor into each
    /// token's entries, and per-neuron sums of the current block.</summary>
    sealed class Scratch(int batchCapacity, int neurons, int block)
    {
        public readonly float[] G = new float[neurons];
        public readonly float[] Coef1 = new float[neurons];
        public readonly float[] Coef2 = new float[neurons];
        public readonly int[] Cursor = new int[batchCapacity];
        public readonly float[] SumG = new float[block];
        public readonly float[] SumGH = new float[block];
    }
}
