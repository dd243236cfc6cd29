using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Model;

namespace GbaEngine.Encoders;

/// <summary>
/// The fused encoder's SGEMM epilogue: on each finished block of Z = Xc·W_encᵀ (tokens × neurons,
/// still in L2) add the bias, gate (or advance each token's TopK selection), update the firing
/// statistics and emit the active entries. The dense B×M matrix never exists in memory.
/// </summary>
internal readonly unsafe struct EncoderEpilogue : IGemmEpilogue
{
    readonly EncoderLane[] _lanes;
    readonly float* _bias;
    readonly SaeActivation _gate;
    readonly int _k;
    readonly KernelSet _set;

    /// <param name="k">TopK's k, or 0 for the threshold gates.</param>
    public EncoderEpilogue(EncoderLane[] lanes, float* bias, SaeActivation gate, int k, KernelSet set)
    {
        _lanes = lanes; _bias = bias; _gate = gate; _k = k; _set = set;
    }

    public void Apply(int row0, int rows, int col0, int cols, float* c, nint ldc, int thread)
    {
        var lane = _lanes[thread];
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
}
