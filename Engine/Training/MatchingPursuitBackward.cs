using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;
using GbaEngine.Encoders;

namespace GbaEngine.Training;

/// <summary>
/// Loss and gradients of MP-SAE through the pursuit chain (spec/gba.md §4: "gradients flow through c
/// and the residual chain, not through argmax"). Since x̂ − x = −r_T, the loss per token is
/// 0.5‖r_T‖². Each step is r_s = r_{s−1} − (D_j·r_{s−1}) D_j = (I − D_j D_jᵀ) r_{s−1}, so with
/// g_s = ∂L/∂r_s, walking back from g_T = r_T:
///   α = D_j·g_s;   ∂L/∂D_j −= α r_{s−1} + c_s g_s;   g_{s−1} = g_s − α D_j
/// and finally ∂L/∂b_pre = −g_0 (r_0 = x − b_pre); all divided by the batch size. r_{s−1} is rebuilt
/// as r_s + c_s D_j rather than stored. The atoms' choice has no gradient. a and b are unused by MP
/// (their gradients are zero). Tokens run over fixed ranges, each range summing into its own
/// gradient buffer, reduced in range order: deterministic for a given thread count.
/// </summary>
internal sealed class MatchingPursuitBackward
{
    readonly SaeParameters _p;
    readonly int _threads;
    readonly AlignedArray _decParts;   // [threads × M × Stride]
    readonly AlignedArray _preParts;   // [threads × Stride]
    readonly AlignedArray _scratch;    // [threads × 2 × Stride]: g and r per range
    readonly double[] _lossParts;

    /// <summary>The kernel set it runs (the trainer sets its own; default: the process's).</summary>
    internal KernelSet Kernels { get; set; } = KernelSelector.Current;

    public MatchingPursuitBackward(SaeParameters parameters, int threads)
    {
        _p = parameters;
        _threads = Math.Max(1, threads);
        _decParts = new AlignedArray((long)_threads * parameters.Neurons * parameters.Stride);
        _preParts = new AlignedArray((long)_threads * parameters.Stride);
        _scratch = new AlignedArray((long)_threads * 2 * parameters.Stride);
        _lossParts = new double[_threads];
    }

    /// <summary>Mean over the batch of 0.5‖x̂ − x‖² = 0.5‖r_T‖² (normalised space).</summary>
    public double Loss(MatchingPursuitEncoder encoder, int rows)
    {
        int stride = _p.Stride;
        var set = Kernels;
        Array.Clear(_lossParts);
        FixedPartition.Run(rows, _threads, (part, s, e) =>
        {
            var rs = encoder.Residual.Span;
            double loss = 0;
            for (int t = s; t < e; t++)
            {
                var r = rs.Slice(t * stride, stride);
                loss += 0.5 * Blas1.Dot(r, r, set);
            }
            _lossParts[part] = loss;
        }, granule: 4);
        return rows == 0 ? 0 : _lossParts.Sum() / rows;
    }

    /// <summary>Fills grad's decoder and b_pre from the encoder's last batch; a and b get zero.</summary>
    public void Gradients(MatchingPursuitEncoder encoder, int rows, SaeParameters grad)
    {
        int stride = _p.Stride, m = _p.Neurons;
        long rowsPerPart = (long)m * stride;
        var set = Kernels;
        float invB = rows == 0 ? 0 : 1f / rows;
        FixedPartition.Run(rows, _threads, (part, s, e) =>
        {
            var dec = _decParts.Span.Slice((int)(part * rowsPerPart), (int)rowsPerPart);
            var pre = _preParts.Span.Slice(part * stride, stride);
            dec.Clear();
            pre.Clear();
            var g = _scratch.Span.Slice(2 * part * stride, stride);
            var r = _scratch.Span.Slice((2 * part + 1) * stride, stride);
            var rs = encoder.Residual.Span;
            for (int t = s; t < e; t++)
            {
                rs.Slice(t * stride, stride).CopyTo(g);
                rs.Slice(t * stride, stride).CopyTo(r);
                for (int step = encoder.StepsTaken(t) - 1; step >= 0; step--)
                {
                    var (j, c) = encoder.Trace(t, step);
                    var atom = _p.DecoderRow(j);
                    var gAtom = dec.Slice(j * stride, stride);
                    Blas1.Axpy(c, atom, r, set);                 // r_{s−1} = r_s + c D_j
                    float alpha = Blas1.Dot(atom, g, set);
                    Blas1.Axpy(-alpha * invB, r, gAtom, set);
                    Blas1.Axpy(-c * invB, g, gAtom, set);
                    Blas1.Axpy(-alpha, atom, g, set);            // g_{s−1} = g_s − α D_j
                }
                Blas1.Axpy(-invB, g, pre, set);
            }
        }, granule: 4);

        int parts = Math.Min(_threads, Math.Max(1, rows));
        FixedPartition.Run(m, _threads, (_, s, e) =>
        {
            var dst = grad.Decoder.Slice(s * stride, (e - s) * stride);
            dst.Clear();
            for (int part = 0; part < parts; part++)
            {
                if (!PartHasTokens(rows, part)) continue;
                Blas1.Axpy(1f, _decParts.Span.Slice((int)(part * rowsPerPart) + s * stride, (e - s) * stride), dst, set);
            }
        }, granule: 16);
        var gPre = grad.PreBias;
        gPre.Clear();
        for (int part = 0; part < parts; part++)
            if (PartHasTokens(rows, part)) Blas1.Axpy(1f, _preParts.Span.Slice(part * stride, stride), gPre, set);
        grad.Scale.Clear();
        grad.Bias.Clear();
    }

    /// <summary>Whether FixedPartition gave range <paramref name="part"/> any tokens (empty ranges leave stale buffers).</summary>
    bool PartHasTokens(int rows, int part)
    {
        if (_threads <= 1 || rows <= 4) return part == 0;
        var (s, e) = FixedPartition.Range(rows, _threads, part, 4);
        return s < e;
    }
}
