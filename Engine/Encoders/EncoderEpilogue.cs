using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Model;

namespace GbaEngine.Encoders;

/// <summary>
/// The fused encoder's SGEMM epilogue: on each finished block of Z = Xc·W_encᵀ (tokens × neurons,
/// still in L2) add the bias, gate (or advance each token's TopK selection), update the firing
/// statistics and emit the active entries; with AuxK, also advance each token's selection of the
/// largest y among the dead latents of the block. The dense B×M matrix never exists in memory.
/// </summary>
internal readonly unsafe struct EncoderEpilogue : IGemmEpilogue
{
    readonly EncoderLane[] _lanes;
    readonly float* _bias;
    readonly SaeActivation _gate;
    readonly int _k;
    readonly KernelSet _set;
    readonly DeadLatentSelection? _aux;
    readonly float* _auxBias;

    /// <param name="k">TopK's k, or 0 for the threshold gates.</param>
    /// <param name="aux">AuxK's dead-latent selection, or null.</param>
    /// <param name="auxBias">The unshifted b, from which the dead latents' y = z + b are taken.</param>
    public EncoderEpilogue(EncoderLane[] lanes, float* bias, SaeActivation gate, int k, KernelSet set,
        DeadLatentSelection? aux = null, float* auxBias = null)
    {
        _lanes = lanes; _bias = bias; _gate = gate; _k = k; _set = set; _aux = aux; _auxBias = auxBias;
    }

    public void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread)
    {
        var lane = _lanes[thread];
        if (_aux != null) SelectDead(lane, row0, rows, col0, cols, c, ldc);
        var b = new ReadOnlySpan<float>(_bias + col0, cols);
        var maxY = lane.MaxY.AsSpan(col0, cols);
        if (_k > 0)
        {
            for (int r = 0; r < rows; r++)
            {
                int t = row0 + r;
                var sel = new TopKSelector(_k, lane.CandidateIndex.AsSpan(t * _k, _k), lane.CandidateValue.AsSpan(t * _k, _k),
                    lane.CandidateCount[t], lane.CandidateMin[t]);
                Gate.Scan(new ReadOnlySpan<float>(c + r * ldc, cols), b, maxY, col0, ref sel, _set);
                lane.CandidateCount[t] = sel.Count;
                lane.CandidateMin[t] = sel.MinPos;
            }
            return;
        }
        var count = lane.Count.AsSpan(col0, cols);
        for (int r = 0; r < rows; r++)
        {
            int t = row0 + r;
            lane.EnsureRoom(cols);
            int start = lane.Entries;
            int n = Gate.Apply(new ReadOnlySpan<float>(c + r * ldc, cols), b, _gate == SaeActivation.JumpRelu, count, maxY,
                lane.Index.AsSpan(start, cols), lane.H.AsSpan(start, cols), _set);
            // Gate numbers neurons within the block; make them global and tag the token.
            var idx = lane.Index.AsSpan(start, n);
            var tok = lane.Token.AsSpan(start, n);
            for (int e = 0; e < n; e++) { idx[e] += col0; tok[e] = t; }
            lane.PerToken[t] += n;
            lane.Entries = start + n;
        }
    }

    /// <summary>
    /// Offers y = z + b of the block's dead latents to each token's AuxK selection (k_aux largest
    /// positive y, ties to the lower index): only the listed latents are visited, in ascending order,
    /// so the cost is rows × (dead latents in the block), never a pass over every neuron.
    /// </summary>
    void SelectDead(EncoderLane lane, int row0, int rows, int col0, int cols, float* c, nint ldc)
    {
        var aux = _aux!;
        var dead = aux.Latents.AsSpan(0, aux.Count);
        int lo = LowerBound(dead, col0), hi = LowerBound(dead, col0 + cols);
        if (lo == hi) return;
        int k = aux.K;
        for (int r = 0; r < rows; r++)
        {
            int t = row0 + r;
            var sel = new TopKSelector(k, lane.AuxIndex.AsSpan(t * k, k), lane.AuxValue.AsSpan(t * k, k), lane.AuxCount[t], lane.AuxMin[t]);
            float* z = c + r * ldc - col0;
            for (int i = lo; i < hi; i++)
            {
                int m = dead[i];
                sel.Offer(m, z[m] + _auxBias[m]);
            }
            lane.AuxCount[t] = sel.Count;
            lane.AuxMin[t] = sel.MinPos;
        }
    }

    static int LowerBound(ReadOnlySpan<int> sorted, int value)
    {
        int lo = 0, hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] < value) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}

/// <summary>
/// What the fused encoder selects for AuxK next to the code: per token, the <see cref="K"/> largest
/// positive y = z + b among <see cref="Latents"/> (ascending; the first <see cref="Count"/> entries),
/// written to <see cref="Code"/> in ascending neuron order with h = y. The selection fires nothing.
/// </summary>
internal sealed class DeadLatentSelection(int[] latents, SparseCode code)
{
    public int[] Latents { get; } = latents;
    public SparseCode Code { get; } = code;
    public int Count { get; set; }
    public int K { get; set; }
}
