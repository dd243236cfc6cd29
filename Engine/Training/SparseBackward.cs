using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
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
/// Token work runs over fixed token ranges; neuron work over fixed neuron ranges via a CSC
/// transpose of the code, so each gradient row is summed in token order: deterministic.
/// </summary>
public sealed class SparseBackward : IDisposable
{
    readonly SaeArchitecture _arch;
    readonly SaeParameters _p;
    readonly int _threads;
    readonly WorkerPool _pool;
    readonly bool _ownsPool;
    readonly double[] _lossParts;
    readonly AlignedArray _errSumParts;   // [threads × Stride] Σ e_t per token part
    readonly AlignedArray _preParts;      // [threads × Stride] -Σ a G u per neuron part
    float[] _g = new float[1024];         // g_tm per code entry
    int[] _colStart;
    int[] _colEntry = new int[1024];
    int[] _colToken = new int[1024];
    readonly int[] _cursor;

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

    SparseBackward(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, bool ownsPool)
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
        _colStart = new int[arch.Neurons + 1];
        _cursor = new int[arch.Neurons];
    }

    /// <summary>[B × Stride] e_t = x̂_t - x_t of the last batch (normalised space).</summary>
    public AlignedArray Error { get; }

    /// <summary>Decodes the code, writes e_t and returns the mean loss 0.5·‖e‖² per token.</summary>
    public double Decode(AlignedArray x, int rows, SparseCode code)
    {
        EnsureEntries(code.Count);
        Array.Clear(_lossParts);
        _pool.For(rows, new DecodeJob(this, x, code), granule: 4);
        double total = 0;
        for (int i = 0; i < _threads; i++) total += _lossParts[i];
        return rows == 0 ? 0 : total / rows;
    }

    /// <summary>Fills grad (same layout as the parameters) from the last Decode; Xc from the encoder.</summary>
    public void Gradients(AlignedArray xc, int rows, SparseCode code, SaeParameters grad)
    {
        var set = KernelSelector.Current;
        int stride = _p.Stride;
        float invB = 1f / rows;
        BuildColumns(code, rows);
        _errSumParts.Span.Clear();
        _pool.For(rows, new ErrorSumJob(this), granule: 4);
        _pool.For(_arch.Neurons, new NeuronJob(this, xc, code, grad, invB), granule: 16);

        var gPre = grad.PreBias;
        gPre.Clear();
        for (int i = 0; i < _threads; i++) Blas1.Axpy(invB, _errSumParts.Span.Slice(i * stride, stride), gPre, set);
        for (int i = 0; i < _threads; i++) Blas1.Axpy(1f, _preParts.Span.Slice(i * stride, stride), gPre, set);
        gPre[_p.Dim..].Clear();
    }

    public void Dispose()
    {
        if (_ownsPool) _pool.Dispose();
    }

    /// <summary>Per token: x̂_t from the code, e_t = x̂_t - x_t, the loss, and g_tm = e_t·w_m per entry.</summary>
    readonly struct DecodeJob(SparseBackward b, AlignedArray x, SparseCode code) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = KernelSelector.Current;
            var p = b._p;
            int stride = p.Stride;
            var err = b.Error.Span;
            var xs = x.Span;
            var g = b._g;
            double loss = 0;
            for (int t = start; t < end; t++)
            {
                var et = err.Slice(t * stride, stride);
                var xt = xs.Slice(t * stride, stride);
                SparseDecoder.Reconstruct(p, code.Indices(t), code.Values(t), et);
                Blas1.Axpy(-1f, xt, et, set);
                int r0 = code.RowStart[t], r1 = code.RowStart[t + 1];
                loss += 0.5 * Blas1.Dot(et, et, set);
                for (int r = r0; r < r1; r++) g[r] = Blas1.Dot(et, p.DecoderRow(code.Index[r]), set);
            }
            b._lossParts[part] = loss;
        }
    }

    /// <summary>Σ_t e_t per fixed token part (reduced in part order by the caller).</summary>
    readonly struct ErrorSumJob(SparseBackward b) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = KernelSelector.Current;
            int stride = b._p.Stride;
            var acc = b._errSumParts.Span.Slice(part * stride, stride);
            var err = b.Error.Span;
            for (int t = start; t < end; t++) Blas1.Axpy(1f, err.Slice(t * stride, stride), acc, set);
        }
    }

    /// <summary>Per neuron, over its entries in token order: the weight rows' gradients, a's and b's,
    /// and this part's share of b_pre's.</summary>
    readonly struct NeuronJob(SparseBackward b, AlignedArray xc, SparseCode code, SaeParameters grad, float invB) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = KernelSelector.Current;
            var p = b._p;
            int stride = p.Stride;
            bool reluBias = b._arch.EffectiveGate == GateKind.Relu;
            var err = b.Error.Span;
            var xcs = xc.Span;
            var scale = p.Scale;
            var ga = grad.Scale;
            var gb = grad.Bias;
            var pre = b._preParts.Span.Slice(part * stride, stride);
            pre.Clear();
            var colStart = b._colStart;
            var colEntry = b._colEntry;
            var colToken = b._colToken;
            var g = b._g;
            for (int n = start; n < end; n++)
            {
                var gDec = grad.DecoderRow(n);
                var gEnc = grad.EncoderRow(n);
                gDec.Clear();
                if (!p.Tied) gEnc.Clear();
                float a = scale[n];
                float sumG = 0, sumGH = 0;
                for (int c = colStart[n]; c < colStart[n + 1]; c++)
                {
                    int r = colEntry[c], t = colToken[c];
                    float h = code.H[r], gr = g[r];
                    Blas1.Axpy(a * h * invB, err.Slice(t * stride, stride), gDec, set);
                    Blas1.Axpy(gr * a * invB, xcs.Slice(t * stride, stride), gEnc, set);
                    sumG += gr;
                    sumGH += gr * h;
                }
                ga[n] = sumGH * invB;
                gb[n] = reluBias ? a * sumG * invB : 0f;
                if (sumG != 0) Blas1.Axpy(-a * sumG * invB, p.EncoderRow(n), pre, set);
            }
        }
    }

    void EnsureEntries(int nnz)
    {
        if (_g.Length >= nnz) return;
        int cap = Math.Max(nnz, _g.Length * 3 / 2);
        _g = new float[cap];
        _colEntry = new int[cap];
        _colToken = new int[cap];
    }

    /// <summary>Counting-sort transpose of the CSR code: for each neuron, its entries in token order.</summary>
    void BuildColumns(SparseCode code, int rows)
    {
        int m = _arch.Neurons;
        Array.Clear(_colStart);
        int nnz = code.Count;
        for (int r = 0; r < nnz; r++) _colStart[code.Index[r] + 1]++;
        for (int n = 0; n < m; n++) _colStart[n + 1] += _colStart[n];
        var cursor = _cursor;
        _colStart.AsSpan(0, m).CopyTo(cursor);
        for (int t = 0; t < rows; t++)
            for (int r = code.RowStart[t]; r < code.RowStart[t + 1]; r++)
            {
                int pos = cursor[code.Index[r]]++;
                _colEntry[pos] = r;
                _colToken[pos] = t;
            }
    }
}
