using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;

namespace GbaEngine.Encoders;

/// <summary>
/// The forward pass of a batch, fused around the one dense product of a training step:
/// Xc = X - b_pre, then Z = Xc·W_encᵀ by the SGEMM, whose epilogue gates each finished block while it
/// is in cache (<see cref="EncoderEpilogue"/>): bias, JumpReLU/ReLU or per-token TopK selection, firing
/// statistics and sparse emission. Z is never stored. Each SGEMM thread owns a fixed part of Z and
/// writes its own lane; the lanes are merged in order, so the code and statistics are bitwise the
/// same for every thread count and every run. Steady-state calls allocate nothing.
/// </summary>
internal sealed unsafe class BatchEncoder : IDisposable
{
    readonly SaeArchitecture _arch;
    readonly SaeParameters _p;
    readonly WorkerPool _pool;
    readonly bool _ownsPool;
    readonly SgemmContext _gemm;
    readonly EncoderLane[] _lanes;
    readonly int _k;                        // TopK's k; 0 for the threshold gates
    readonly int[] _stageIndex, _stageCount; // TopK: each token's merged selection, k slots per token
    readonly float[] _stageH;
    readonly AlignedArray _shiftedBias;     // b − offset when the firing threshold is moved
    readonly int[][] _mergeIndex;           // TopK: per merge part, k slots of scratch (x2)
    readonly float[][] _mergeValue;
    int[] _auxStageIndex = [], _auxStageCount = [];   // AuxK: as the TopK staging, k_aux slots per token
    float[] _auxStageH = [];
    int _auxCapacity;
    int[][] _auxMergeIndex = [];
    float[][] _auxMergeValue = [];

    /// <summary>An encoder with its own <paramref name="threads"/> worker threads.</summary>
    public BatchEncoder(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, int threads, KernelSet? kernels = null)
        : this(arch, parameters, batchCapacity, new WorkerPool(Math.Max(1, threads)), ownsPool: true, kernels)
    {
    }

    /// <summary>An encoder running on the caller's pool (shared with the rest of a training step).</summary>
    public BatchEncoder(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, KernelSet? kernels = null)
        : this(arch, parameters, batchCapacity, pool, ownsPool: false, kernels)
    {
    }

    BatchEncoder(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, bool ownsPool, KernelSet? kernels)
    {
        arch.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(batchCapacity, 1);
        _arch = arch;
        _p = parameters;
        _pool = pool;
        _ownsPool = ownsPool;
        _gemm = new SgemmContext(pool, kernels);
        _k = arch.Sparsity == SparsityMode.TopK ? arch.K : 0;
        _lanes = new EncoderLane[pool.Threads];
        for (int i = 0; i < _lanes.Length; i++) _lanes[i] = new EncoderLane(arch.Neurons, batchCapacity, _k);
        _stageIndex = new int[batchCapacity * _k];
        _stageH = new float[batchCapacity * _k];
        _stageCount = new int[_k > 0 ? batchCapacity : 0];
        _mergeIndex = new int[pool.Threads * 2][];
        _mergeValue = new float[pool.Threads * 2][];
        for (int i = 0; i < _mergeIndex.Length; i++) { _mergeIndex[i] = new int[_k]; _mergeValue[i] = new float[_k]; }
        Xc = new AlignedArray((long)batchCapacity * parameters.Stride);
        _shiftedBias = new AlignedArray(arch.Neurons);
        BatchCapacity = batchCapacity;
    }

    public int BatchCapacity { get; }

    /// <summary>AuxK's dead-latent selection made by every <see cref="Encode(AlignedArray, int, SparseCode, FiringStatistics?, float)"/>
    /// while set (and its <see cref="DeadLatentSelection.Count"/> and K are positive); null: none.</summary>
    internal DeadLatentSelection? DeadSelection { get; set; }

    /// <summary>Allocates the per-lane room for dead-latent selections of up to <paramref name="k"/> per token.</summary>
    internal void EnableDeadSelection(int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        _auxCapacity = k;
        foreach (var lane in _lanes) lane.EnsureAux(BatchCapacity, k);
        _auxStageIndex = new int[BatchCapacity * k];
        _auxStageH = new float[BatchCapacity * k];
        _auxStageCount = new int[BatchCapacity];
        _auxMergeIndex = new int[_lanes.Length * 2][];
        _auxMergeValue = new float[_lanes.Length * 2][];
        for (int i = 0; i < _auxMergeIndex.Length; i++) { _auxMergeIndex[i] = new int[k]; _auxMergeValue[i] = new float[k]; }
    }

    /// <summary>[B × Stride] the centred inputs of the last batch (the backward pass reads them).</summary>
    public AlignedArray Xc { get; }

    /// <summary>Encodes rows of X [rows × Stride] (already normalised); fills code and adds to stats.</summary>
    public void Encode(AlignedArray x, int rows, SparseCode code, FiringStatistics? stats) =>
        Encode(x, rows, code, stats, _arch.Gate == SaeActivation.Relu && _k == 0 ? _arch.ReluThreshold : 0f);

    /// <summary>
    /// Encodes with the firing threshold moved by <paramref name="offset"/> (threshold gates only): a
    /// neuron is emitted when z + fl(b − offset) &gt; 0, i.e. y ≳ offset, with h as the gate defines it
    /// (z for JumpReLU; y = z + b for ReLU, bitwise what the unshifted gate computes). Used for ReLU's
    /// firing threshold (BatchTopK inference), BatchTopK's provisional candidate threshold and JumpReLU's
    /// near-miss window below the threshold (a negative offset). Statistics count emitted entries; their
    /// max y is that of z + fl(b − offset), plus offset.
    /// </summary>
    public void Encode(AlignedArray x, int rows, SparseCode code, FiringStatistics? stats, float offset)
    {
        if (rows > BatchCapacity) throw new ArgumentException($"Batch of {rows} rows exceeds capacity {BatchCapacity}.");
        if (offset != 0 && (_k > 0 || !float.IsFinite(offset)))
            throw new ArgumentException($"Cannot move the firing threshold by {offset} (TopK has none; the offset must be finite).");
        int stride = _p.Stride, m = _arch.Neurons;
        _pool.For(rows, new CenterJob(this, x), granule: 16);
        var aux = DeadSelection is { Count: > 0, K: > 0 } selection ? selection : null;
        if (aux != null && aux.K > _auxCapacity)
            throw new InvalidOperationException($"Dead-latent selection of {aux.K} per token exceeds the room EnableDeadSelection made.");
        foreach (var lane in _lanes) lane.Reset(rows, _k > 0, aux != null);

        float* bias = _p.Data.Pointer + _p.BiasOffset;
        var gate = _arch.Gate;
        if (offset != 0)
        {
            // Gate on the shifted bias but emit z (JumpReLU form); ReLU's y = z + b is restored below.
            var b = _p.Bias;
            var shifted = _shiftedBias.Span;
            for (int n = 0; n < m; n++) shifted[n] = b[n] - offset;
            bias = _shiftedBias.Pointer;
            gate = SaeActivation.JumpRelu;
        }
        if (rows > 0)
        {
            var epilogue = new EncoderEpilogue(_lanes, bias, gate, _k, _gemm.Kernels, aux, _p.Data.Pointer + _p.BiasOffset);
            _gemm.MultiplyFused(GemmTranspose.NoTranspose, GemmTranspose.Transpose, rows, m, _p.Dim, 1f,
                Xc.Pointer, stride, _p.Data.Pointer + _p.EncoderOffset, stride, epilogue);
        }
        if (_k > 0) AssembleTopK(rows, code);
        else AssembleThreshold(rows, code);
        if (aux != null)
        {
            _pool.For(rows, new MergeJob(this, aux.K, aux: true), granule: 16);
            Assemble(rows, aux.Code, aux.K, _auxStageIndex, _auxStageH, _auxStageCount);
        }
        else if (DeadSelection is { } idle)
        {
            idle.Code.Reset(rows);
            Array.Clear(idle.Code.RowStart, 0, rows + 1);
        }
        if (offset != 0 && _arch.Gate == SaeActivation.Relu) AddBias(code);

        if (stats != null)
        {
            foreach (var lane in _lanes)
            {
                if (offset != 0) foreach (ref float v in lane.MaxY.AsSpan(0, m)) v += offset;
                stats.Merge(lane.Count.AsSpan(0, m), lane.MaxY.AsSpan(0, m));
            }
            stats.AddTokens(rows);
        }
    }

    /// <summary>h = z + b for every entry of a code emitted in the JumpReLU form.</summary>
    void AddBias(SparseCode code)
    {
        var b = _p.Bias;
        int[] index = code.Index;
        float[] h = code.H;
        for (int r = 0; r < code.Count; r++) h[r] += b[index[r]];
    }

    /// <summary>CSR from the lanes' entries: token t holds lane 0's entries, then lane 1's, ...,
    /// which is ascending neuron order since lanes own ascending neuron ranges (or disjoint tokens).</summary>
    void AssembleThreshold(int rows, SparseCode code)
    {
        code.Reset(rows);
        int offset = 0;
        for (int t = 0; t < rows; t++)
        {
            code.RowStart[t] = offset;
            foreach (var lane in _lanes)
            {
                lane.Cursor[t] = offset;
                offset += lane.PerToken[t];
            }
        }
        code.RowStart[rows] = offset;
        code.EnsureCapacity(offset);
        _pool.For(_lanes.Length, new ScatterJob(this, code));
    }

    /// <summary>Each token's final top k from the lanes' partial selections, re-offered in ascending
    /// neuron order so ties resolve exactly as a single pass over the whole row would.</summary>
    void AssembleTopK(int rows, SparseCode code)
    {
        _pool.For(rows, new MergeJob(this, _k, aux: false), granule: 16);
        Assemble(rows, code, _k, _stageIndex, _stageH, _stageCount);
    }

    /// <summary>CSR from per-token staged selections of up to <paramref name="k"/> entries each.</summary>
    static void Assemble(int rows, SparseCode code, int k, int[] stageIndex, float[] stageH, int[] stageCount)
    {
        code.Reset(rows);
        int offset = 0;
        for (int t = 0; t < rows; t++) { code.RowStart[t] = offset; offset += stageCount[t]; }
        code.RowStart[rows] = offset;
        code.EnsureCapacity(offset);
        for (int t = 0; t < rows; t++)
        {
            int n = stageCount[t], at = code.RowStart[t];
            stageIndex.AsSpan(t * k, n).CopyTo(code.Index.AsSpan(at));
            stageH.AsSpan(t * k, n).CopyTo(code.H.AsSpan(at));
        }
    }

    public void Dispose()
    {
        _gemm.Dispose();
        if (_ownsPool) _pool.Dispose();
    }

    readonly struct CenterJob(BatchEncoder enc, AlignedArray x) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            int stride = enc._p.Stride, d = enc._p.Dim;
            var xs = x.Span;
            var xcs = enc.Xc.Span;
            var pre = enc._p.PreBias;
            for (int t = start; t < end; t++)
            {
                var src = xs.Slice(t * stride, stride);
                var dst = xcs.Slice(t * stride, stride);
                for (int j = 0; j < d; j++) dst[j] = src[j] - pre[j];
                dst[d..].Clear();
            }
        }
    }

    readonly struct ScatterJob(BatchEncoder enc, SparseCode code) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            for (int l = start; l < end; l++)
            {
                var lane = enc._lanes[l];
                var cursor = lane.Cursor;
                int[] outIndex = code.Index;
                float[] outH = code.H;
                for (int e = 0; e < lane.Entries; e++)
                {
                    int pos = cursor[lane.Token[e]]++;
                    outIndex[pos] = lane.Index[e];
                    outH[pos] = lane.H[e];
                }
            }
        }
    }

    /// <summary>Per token, the final selection from the lanes' partial ones: TopK's code (counted as fired)
    /// or, with <paramref name="aux"/>, AuxK's dead-latent selection (not counted).</summary>
    readonly struct MergeJob(BatchEncoder enc, int k, bool aux) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var (mergeIndex, mergeValue) = aux ? (enc._auxMergeIndex, enc._auxMergeValue) : (enc._mergeIndex, enc._mergeValue);
            var (stageIndex, stageH, stageCount) = aux ? (enc._auxStageIndex, enc._auxStageH, enc._auxStageCount) : (enc._stageIndex, enc._stageH, enc._stageCount);
            var selIndex = mergeIndex[2 * part].AsSpan(0, k);
            var selValue = mergeValue[2 * part].AsSpan(0, k);
            var sortIndex = mergeIndex[2 * part + 1].AsSpan(0, k);
            var sortValue = mergeValue[2 * part + 1].AsSpan(0, k);
            var fireCount = enc._lanes[part].Count.AsSpan();
            for (int t = start; t < end; t++)
            {
                var sel = new TopKSelector(k, selIndex, selValue);
                foreach (var lane in enc._lanes)
                {
                    int n = aux ? lane.AuxCount[t] : lane.CandidateCount[t];
                    if (n == 0) continue;
                    (aux ? lane.AuxIndex : lane.CandidateIndex).AsSpan(t * k, n).CopyTo(sortIndex);
                    (aux ? lane.AuxValue : lane.CandidateValue).AsSpan(t * k, n).CopyTo(sortValue);
                    SortByIndex(sortIndex[..n], sortValue[..n]);
                    for (int j = 0; j < n; j++) sel.Offer(sortIndex[j], sortValue[j]);
                }
                var outIndex = stageIndex.AsSpan(t * k, k);
                var outH = stageH.AsSpan(t * k, k);
                stageCount[t] = aux ? sel.Emit(outIndex, outH) : sel.Emit(fireCount, outIndex, outH);
            }
        }

        static void SortByIndex(Span<int> idx, Span<float> val)
        {
            for (int j = 1; j < idx.Length; j++)
            {
                int ki = idx[j]; float kv = val[j]; int p = j - 1;
                while (p >= 0 && idx[p] > ki) { idx[p + 1] = idx[p]; val[p + 1] = val[p]; p--; }
                idx[p + 1] = ki; val[p + 1] = kv;
            }
        }
    }
}
