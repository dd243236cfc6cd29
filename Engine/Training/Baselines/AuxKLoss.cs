using GbaEngine.Encoders;
using GbaEngine.Kernels;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// AuxK (Gao et al. 2024, "Scaling and evaluating sparse autoencoders", §A.2 / B.1), the dead-latent
/// repair of TopK and BatchTopK as sparsify implements it. Per token, the k_aux largest positive
/// pre-activations y = z + b among the dead latents (<see cref="DeadLatents"/>: more than N tokens
/// without firing) form a second code, whose reconstruction ê_t = Σ_m a_m h_tm w_m (h = y) is asked to
/// predict the main reconstruction's residual e_t = x_t − x̂_t, held fixed:
///   L_aux = α · min(n_dead / k_aux, 1) · Σ_t ‖ê_t − e_t‖² / Σ_t ‖e_t − ē‖²
/// added to the step's loss. The scale min(n_dead / k_aux, 1) and k_aux = min(k_aux, n_dead) are
/// sparsify's; the denominator is the residual's total variance over the batch (dictionary_learning's
/// normalisation), which makes L_aux dimensionless whatever the scale of the main loss. ê carries no
/// b_pre (as in dictionary_learning and OpenAI's reference, which cancels it; sparsify's decode adds
/// b_dec to ê, so there the auxiliary term also pulls b_dec, at weight α). Only dead latents enter the
/// second code, so only they (and b_pre, through their encoder input) receive its gradient:
///   with r_t = ê_t − e_t and c = 2α·scale / Σ_t ‖e_t − ē‖², SparseBackward's formulas with 1/B → c.
/// The selection is made in the fused encoder's epilogue from the block of Z it already holds; the
/// dense B×M matrix is never built. The decode and gradients cost O(k_aux·d) per token.
/// </summary>
internal sealed class AuxKLoss
{
    readonly SaeParameters _p;
    readonly SparseBackward _backward;   // its own error buffer (r = ê − e) and scratch
    readonly AlignedArray _target;       // [B × Stride] e_t = x_t − x̂_t
    readonly double[] _mean;
    readonly DeadLatents _dead;
    readonly DeadLatentSelection _selection;

    /// <param name="k">k_aux (sparsify: d/2).</param>
    /// <param name="coefficient">α (sparsify: 1/32).</param>
    internal AuxKLoss(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, WorkerPool pool, DeadLatents dead, int k, double coefficient,
        KernelSet kernels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        _p = parameters;
        _backward = new SparseBackward(arch, parameters, batchCapacity, pool) { Kernels = kernels };
        _target = new AlignedArray((long)batchCapacity * parameters.Stride);
        _mean = new double[parameters.Dim];
        _dead = dead;
        // Room for the largest selection up front: it grows as latents die, and a step must not allocate.
        var code = new SparseCode();
        code.Reset(batchCapacity);
        code.EnsureCapacity(batchCapacity * Math.Min(k, parameters.Neurons));
        _selection = new DeadLatentSelection(dead.DeadArray, code);
        K = k;
        Coefficient = coefficient;
    }

    /// <summary>k_aux.</summary>
    public int K { get; }
    /// <summary>α.</summary>
    public double Coefficient { get; }

    /// <summary>The last step's second code: per token, the dead latents selected (h = y).</summary>
    public SparseCode Code => _selection.Code;

    /// <summary>Dead latents at the start of the last step.</summary>
    public int DeadCount => _selection.Count;

    /// <summary>Before the encoder pass: reads the dead latents off the counters and has the encoder select among them.</summary>
    internal void Prepare(BatchEncoder encoder)
    {
        _dead.Refresh();
        _selection.Count = _dead.DeadCount;
        _selection.K = Math.Min(K, _dead.DeadCount);
        encoder.DeadSelection = _selection;
    }

    /// <summary>
    /// After the main gradients: adds AuxK's gradient to grad and returns L_aux. <paramref name="error"/>
    /// is the main decode's x̂_t − x_t [rows × Stride]; <paramref name="xc"/> the centred inputs.
    /// </summary>
    internal double Add(AlignedArray xc, AlignedArray error, int rows, SaeParameters grad)
    {
        if (_selection.Count == 0 || rows == 0 || Coefficient == 0) return 0;
        int d = _p.Dim, stride = _p.Stride;
        var err = error.Span;
        var target = _target.Span;
        Array.Clear(_mean);
        for (int t = 0; t < rows; t++)
            for (int j = 0; j < d; j++) _mean[j] += err[t * stride + j];
        for (int j = 0; j < d; j++) _mean[j] /= rows;
        double variance = 0;
        for (int t = 0; t < rows; t++)
        {
            for (int j = 0; j < d; j++)
            {
                float e = -err[t * stride + j];           // the residual x − x̂
                target[t * stride + j] = e;
                double c = e + _mean[j];
                variance += c * c;
            }
            target.Slice(t * stride + d, stride - d).Clear();
        }
        if (!(variance > 0)) return 0;   // a perfect reconstruction leaves nothing to predict

        double halfMean = _backward.Decode(_target, rows, _selection.Code, preBias: false);   // 0.5·mean_t ‖ê_t − e_t‖²
        double scale = Math.Min((double)_selection.Count / K, 1.0);
        _backward.AccumulateGradients(xc, rows, _selection.Code, grad, (float)(2 * Coefficient * scale / variance));
        return Coefficient * scale * (2 * rows * halfMean) / variance;
    }
}
