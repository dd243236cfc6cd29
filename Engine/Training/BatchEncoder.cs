using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;

namespace GbaEngine.Training;

/// <summary>
/// The forward pass of a batch: Xc = X - b_pre, pre-activations Z = Xc·W_encᵀ computed four tokens
/// at a time, then per token the gate (or TopK), the firing statistics and the sparse code. The
/// dense B×M matrix is never held whole: each worker keeps a 4×M tile. Workers own fixed token
/// ranges and their own partial statistics, so results do not depend on timing.
/// </summary>
public sealed class BatchEncoder
{
    const int TokenBlock = 4;

    readonly SaeArchitecture _arch;
    readonly SaeParameters _p;
    readonly int _threads;
    readonly int _mPad;
    readonly AlignedArray _wt;            // [Stride × MPad] W_encᵀ, refreshed after every parameter update
    readonly Worker[] _workers;

    public BatchEncoder(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, int threads)
    {
        arch.Validate();
        _arch = arch;
        _p = parameters;
        _threads = Math.Max(1, threads);
        _mPad = AlignedArray.PadToLine(arch.Neurons);
        _wt = new AlignedArray((long)parameters.Stride * _mPad);
        Xc = new AlignedArray((long)batchCapacity * parameters.Stride);
        BatchCapacity = batchCapacity;
        _workers = new Worker[_threads];
        for (int i = 0; i < _threads; i++) _workers[i] = new Worker(arch, _mPad);
        RefreshTranspose();
    }

    public int BatchCapacity { get; }

    /// <summary>[B × Stride] the centred inputs of the last batch (the backward pass reads them).</summary>
    public AlignedArray Xc { get; }

    /// <summary>Re-derives W_encᵀ; call after every change to the encoder weights.</summary>
    public void RefreshTranspose()
    {
        int d = _p.Dim, stride = _p.Stride, m = _arch.Neurons, mPad = _mPad;
        FixedPartition.Run(m, _threads, (_, s, e) =>
        {
            var src = _p.Encoder;
            var dst = _wt.Span;
            for (int i = s; i < e; i++)
                for (int j = 0; j < d; j++)
                    dst[j * mPad + i] = src[i * stride + j];
        }, granule: 16);
    }

    /// <summary>Encodes rows of X [rows × Stride] (already normalised); fills code and adds to stats.</summary>
    public unsafe void Encode(AlignedArray x, int rows, SparseCode code, FiringStatistics? stats)
    {
        if (rows > BatchCapacity) throw new ArgumentException($"Batch of {rows} rows exceeds capacity {BatchCapacity}.");
        int stride = _p.Stride, d = _p.Dim, m = _arch.Neurons;
        var set = KernelSelector.Current;
        var xs = x.Span;
        var xcs = Xc.Span;
        var pre = _p.PreBias;
        for (int t = 0; t < rows; t++)
        {
            var src = xs.Slice(t * stride, stride);
            var dst = xcs.Slice(t * stride, stride);
            for (int j = 0; j < d; j++) dst[j] = src[j] - pre[j];
            dst[d..].Clear();
        }

        code.Reset(rows);
        FixedPartition.Run(rows, _threads, (part, s, e) => _workers[part].Run(this, s, e, set), granule: TokenBlock);

        // Concatenate the workers' codes in token order (parts are contiguous token ranges).
        int total = 0;
        for (int w = 0; w < _threads; w++) total += _workers[w].Entries;
        code.EnsureCapacity(total);
        int offset = 0;
        for (int w = 0; w < _threads; w++)
        {
            var wk = _workers[w];
            if (wk.Tokens == 0) continue;
            wk.Idx.AsSpan(0, wk.Entries).CopyTo(code.Index.AsSpan(offset));
            wk.H.AsSpan(0, wk.Entries).CopyTo(code.H.AsSpan(offset));
            for (int t = 0; t < wk.Tokens; t++) code.RowStart[wk.FirstToken + t] = offset + wk.RowStart[t];
            offset += wk.Entries;
        }
        code.RowStart[rows] = offset;

        if (stats != null)
        {
            for (int w = 0; w < _threads; w++)
                if (_workers[w].Tokens > 0) stats.Merge(_workers[w].Count.AsSpan(0, m), _workers[w].MaxY.AsSpan(0, m));
            stats.AddTokens(rows);
        }
    }

    sealed class Worker
    {
        readonly SaeArchitecture _arch;
        readonly int _mPad;
        readonly AlignedArray _z;
        readonly int[] _heapIdx;
        readonly float[] _heapVal;
        public readonly int[] Count;
        public readonly float[] MaxY;
        public int[] Idx = new int[1024];
        public float[] H = new float[1024];
        public int[] RowStart = new int[64];
        public int Entries, Tokens, FirstToken;

        public Worker(SaeArchitecture arch, int mPad)
        {
            _arch = arch;
            _mPad = mPad;
            _z = new AlignedArray((long)TokenBlock * mPad);
            Count = new int[mPad];
            MaxY = new float[mPad];
            _heapIdx = new int[Math.Max(1, arch.K)];
            _heapVal = new float[Math.Max(1, arch.K)];
        }

        public unsafe void Run(BatchEncoder enc, int start, int end, KernelSet set)
        {
            var p = enc._p;
            int m = _arch.Neurons, stride = p.Stride;
            FirstToken = start;
            Tokens = end - start;
            Entries = 0;
            Array.Clear(Count);
            Array.Fill(MaxY, float.NegativeInfinity);
            if (RowStart.Length < Tokens + 1) RowStart = new int[Tokens + 1];
            var bias = p.Bias;
            bool topK = _arch.Sparsity == SparsityMode.TopK;
            int perToken = topK ? _arch.K : m;
            var z = _z.Span;
            for (int t0 = start; t0 < end; t0 += TokenBlock)
            {
                int n = Math.Min(TokenBlock, end - t0);
                EncoderProduct.Compute(enc.Xc.Pointer + (long)t0 * stride, stride, n, p.Dim, enc._wt.Pointer, _mPad, _z.Pointer, set);
                for (int i = 0; i < n; i++)
                {
                    EnsureRoom(Entries + perToken);
                    RowStart[t0 + i - start] = Entries;
                    var zr = z.Slice(i * _mPad, m);
                    int c = topK
                        ? Gate.TopK(zr, bias, _arch.K, Count, MaxY, Idx.AsSpan(Entries), H.AsSpan(Entries), _heapIdx, _heapVal, set)
                        : Gate.Apply(zr, bias, _arch.Gate, Count, MaxY, Idx.AsSpan(Entries), H.AsSpan(Entries), set);
                    Entries += c;
                }
            }
            RowStart[Tokens] = Entries;
        }

        void EnsureRoom(int needed)
        {
            if (Idx.Length >= needed) return;
            int cap = Math.Max(needed, Idx.Length * 2);
            Array.Resize(ref Idx, cap);
            Array.Resize(ref H, cap);
        }
    }
}
