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
    readonly Scratch[] _scratch;          // per part: a token's f, or a neuron's g and coefficients
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
        _scratch = new Scratch[_threads];
        for (int i = 0; i < _threads; i++) _scratch[i] = new Scratch(Math.Max(batchCapacity, arch.Neurons));
        _cursor = new int[arch.Neurons];
    }

    /// <summary>[B × Stride] e_t = x̂_t - x_t of the last batch (normalised space).</summary>
    public AlignedArray Error { get; }

    /// <summary>Decodes the code, writes e_t and returns the mean loss 0.5·‖e‖² per token.</summary>
    public double Decode(AlignedArray x, int rows, SparseCode code)
    {
        Array.Clear(_lossParts);
        _errSumParts.Span.Clear();
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
        EnsureEntries(code.Count);
        BuildColumns(code, rows);
        _pool.For(_arch.Neurons, new NeuronJob(this, xc, rows, code, grad, invB), granule: 16);

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

    /// <summary>Per token: x̂_t = b_pre + Σ f_tm w_m, e_t = x̂_t - x_t, the loss, and this part's Σ e_t.</summary>
    readonly unsafe struct DecodeJob(SparseBackward b, AlignedArray x, SparseCode code) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = KernelSelector.Current;
            var p = b._p;
            int stride = p.Stride;
            var err = b.Error.Span;
            var xs = x.Span;
            var scale = p.Scale;
            var f = b._scratch[part].Coef1;
            var errSum = b._errSumParts.Span.Slice(part * stride, stride);
            float* w = p.Data.Pointer + p.DecoderOffset;
            double loss = 0;
            for (int t = start; t < end; t++)
            {
                var et = err.Slice(t * stride, stride);
                int r0 = code.RowStart[t], n = code.RowStart[t + 1] - r0;
                var index = code.Index.AsSpan(r0, n);
                var h = code.H.AsSpan(r0, n);
                for (int r = 0; r < n; r++) f[r] = scale[index[r]] * h[r];
                p.PreBias.CopyTo(et);
                fixed (float* pe = et)
                    RowGather.Accumulate(pe, stride, w, stride, index, f, overwrite: false, set);
                Blas1.Axpy(-1f, xs.Slice(t * stride, stride), et, set);
                loss += 0.5 * Blas1.Dot(et, et, set);
                Blas1.Axpy(1f, et, errSum, set);
            }
            b._lossParts[part] = loss;
        }
    }

    /// <summary>
    /// Per neuron, over its entries in token order: g_tm = e_t·w_m, the weight rows' gradients, a's
    /// and b's, and this part's share of b_pre's. Tiled for the caches: a block of NeuronBlock
    /// neurons (their weight and gradient rows stay in L2) meets the tokens a TokenTile at a time
    /// (their error and input rows are read from L3 once per block, not once per entry). Each
    /// gradient element still sums its tokens in ascending order, so tiling does not change a bit.
    /// </summary>
    readonly unsafe struct NeuronJob(SparseBackward b, AlignedArray xc, int rows, SparseCode code, SaeParameters grad, float invB) : IRangeJob
    {
        const int NeuronBlock = 128, TokenTile = 128;

        public void Run(int part, int start, int end)
        {
            var set = KernelSelector.Current;
            var p = b._p;
            int stride = p.Stride;
            bool reluBias = b._arch.EffectiveGate == GateKind.Relu;
            float* e = b.Error.Pointer, xcp = xc.Pointer;
            float* w = p.Data.Pointer + p.DecoderOffset;
            float* gd = grad.Data.Pointer + grad.DecoderOffset, ge = grad.Data.Pointer + grad.EncoderOffset;
            var scale = p.Scale;
            var pre = b._preParts.Span.Slice(part * stride, stride);
            pre.Clear();
            var s = b._scratch[part];
            var colStart = b._colStart;
            var colToken = b._colToken;
            for (int n0 = start; n0 < end; n0 += NeuronBlock)
            {
                int n1 = Math.Min(end, n0 + NeuronBlock);
                for (int n = n0; n < n1; n++)
                {
                    s.Cursor[n - n0] = colStart[n];
                    s.SumG[n - n0] = 0;
                    s.SumGH[n - n0] = 0;
                }
                for (int t1 = TokenTile; t1 - TokenTile < rows; t1 += TokenTile)
                    for (int n = n0; n < n1; n++)
                    {
                        int c0 = s.Cursor[n - n0], c1 = c0, cEnd = colStart[n + 1];
                        while (c1 < cEnd && colToken[c1] < t1) c1++;
                        if (c1 == c0) continue;
                        s.Cursor[n - n0] = c1;
                        int count = c1 - c0;
                        var tokens = colToken.AsSpan(c0, count);
                        var entries = b._colEntry.AsSpan(c0, count);
                        var g = s.G.AsSpan(0, count);
                        var k1 = s.Coef1.AsSpan(0, count);
                        var k2 = s.Coef2.AsSpan(0, count);
                        RowGather.Dots(w + n * stride, stride, e, stride, tokens, g, set);
                        float a = scale[n];
                        float sumG = s.SumG[n - n0], sumGH = s.SumGH[n - n0];
                        for (int j = 0; j < count; j++)
                        {
                            float h = code.H[entries[j]], gj = g[j];
                            k1[j] = a * h * invB;
                            k2[j] = gj * a * invB;
                            sumG += gj;
                            sumGH += gj * h;
                        }
                        s.SumG[n - n0] = sumG;
                        s.SumGH[n - n0] = sumGH;
                        bool first = c0 == colStart[n];
                        if (p.Tied)
                            RowGather.Accumulate2(gd + n * stride, stride, e, xcp, stride, tokens, k1, k2, first, set);
                        else
                        {
                            RowGather.Accumulate(gd + n * stride, stride, e, stride, tokens, k1, first, set);
                            RowGather.Accumulate(ge + n * stride, stride, xcp, stride, tokens, k2, first, set);
                        }
                    }
                for (int n = n0; n < n1; n++)
                {
                    if (colStart[n] == colStart[n + 1])
                    {
                        new Span<float>(gd + n * stride, stride).Clear();
                        if (!p.Tied) new Span<float>(ge + n * stride, stride).Clear();
                    }
                    float a = scale[n], sumG = s.SumG[n - n0];
                    grad.Scale[n] = s.SumGH[n - n0] * invB;
                    grad.Bias[n] = reluBias ? a * sumG * invB : 0f;
                    if (sumG != 0) Blas1.Axpy(-a * sumG * invB, p.EncoderRow(n), pre, set);
                }
            }
        }
    }

    /// <summary>One part's scratch: per-entry values of the row being processed, per-neuron state of a block.</summary>
    sealed class Scratch(int length)
    {
        public readonly float[] G = new float[length];
        public readonly float[] Coef1 = new float[length];
        public readonly float[] Coef2 = new float[length];
        public readonly int[] Cursor = new int[128];
        public readonly float[] SumG = new float[128];
        public readonly float[] SumGH = new float[128];
    }


    void EnsureEntries(int nnz)
    {
        if (_colEntry.Length >= nnz) return;
        int cap = Math.Max(nnz, _colEntry.Length * 3 / 2);
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
