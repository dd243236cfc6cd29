using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;
using GbaEngine.Encoders;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// The L1 baseline's penalty in Anthropic's April-2024 form: per token λ·Σ_m ‖W_dec,m‖·f_m, where the
/// effective decoder row of neuron m is a_m·w_m and its activation h_m = relu(u_m·(x − b_pre) + b_m),
/// so the penalty is λ·Σ_m c_m·h_m with c_m = |a_m|·‖w_m‖ (for a ≥ 0 exactly the spec's λ·Σ‖w_m‖·f_m;
/// the absolute value keeps a negative scale from turning the penalty into a reward). It is invariant
/// to trading scale between a, w and the encoder, which is why the decoder rows are not renormalised.
/// The mean over the batch is added to the engine's loss 0.5‖x̂ − x‖², so λ is in those units.
/// Gradients on the active entries (∂h/∂y = 1), with n_m the entries of neuron m and Σ_t over them:
///   ∂/∂u_m = λ/B·c_m·Σ_t (x_t − b_pre)     ∂/∂b_m = λ/B·c_m·n_m     ∂/∂b_pre = −λ/B·Σ_m c_m·n_m·u_m
///   ∂/∂w_m = λ/B·|a_m|·(Σ_t h_tm)·w_m/‖w_m‖  (tied: added to the encoder path)
///   ∂/∂a_m = λ/B·sign(a_m)·‖w_m‖·Σ_t h_tm
/// Neuron-parallel over the code's columns, each row summed in token order: deterministic.
/// </summary>
internal sealed class L1Penalty : IBaselineStep
{
    readonly SaeParameters _p;
    readonly WorkerPool _pool;
    readonly CodeColumns _columns;
    readonly AlignedArray _preParts;   // [parts × Stride] −Σ c n u per neuron part
    readonly double[] _lossParts;

    /// <summary>The kernel set it runs (the trainer sets its own; default: the process's).</summary>
    internal KernelSet Kernels { get; set; } = KernelSelector.Current;

    /// <param name="lambda">λ after the warm-up.</param>
    /// <param name="warmup">Fraction of the steps over which λ rises linearly from 0.</param>
    public L1Penalty(SaeParameters parameters, WorkerPool pool, double lambda, double warmup = 0)
    {
        _p = parameters;
        _pool = pool;
        Lambda = lambda;
        Warmup = warmup;
        _columns = new CodeColumns(parameters.Neurons);
        _preParts = new AlignedArray((long)pool.Threads * parameters.Stride);
        _lossParts = new double[pool.Threads];
    }

    public double Lambda { get; }
    public double Warmup { get; }

    /// <summary>λ at 1-based <paramref name="step"/> of <paramref name="totalSteps"/>: linear from 0 over the warm-up.</summary>
    public double LambdaAt(long step, long totalSteps) => Lambda * LearningRateSchedule.Ramp(step, totalSteps, Warmup);

    /// <summary>
    /// Adds the penalty's gradient for a ReLU code (h = y on the active entries) to grad and returns the
    /// penalty's mean per token. <paramref name="xc"/> holds the centred inputs x − b_pre the code came from.
    /// </summary>
    public double Add(AlignedArray xc, int rows, SparseCode code, SaeParameters grad, double lambda)
    {
        if (rows == 0 || lambda == 0) return 0;
        _columns.Build(code);
        _preParts.Span.Clear();
        Array.Clear(_lossParts);
        _pool.For(_p.Neurons, new NeuronJob(this, xc, code, grad, (float)(lambda / rows)), granule: 16);
        var set = Kernels;
        int stride = _p.Stride;
        double penalty = 0;
        for (int i = 0; i < _lossParts.Length; i++)
        {
            Blas1.Axpy(1f, _preParts.Span.Slice(i * stride, stride), grad.PreBias, set);
            penalty += _lossParts[i];
        }
        grad.PreBias[_p.Dim..].Clear();
        return penalty * lambda / rows;
    }

    void IBaselineStep.Initialize(SaeParameters p) { }

    void IBaselineStep.Encode(BatchEncoder encoder, AlignedArray x, int rows, SparseCode code) => encoder.Encode(x, rows, code, null);

    double IBaselineStep.AddGradients(BatchEncoder encoder, SparseBackward backward, int rows, SparseCode code, SaeParameters grad,
        long step, long totalSteps) => Add(encoder.Xc, rows, code, grad, LambdaAt(step, totalSteps));

    void IBaselineStep.AfterStep(SaeParameters p) { }

    void IBaselineStep.Publish(SparseAutoencoder model) { }

    readonly struct NeuronJob(L1Penalty l1, AlignedArray xc, SparseCode code, SaeParameters grad, float lambdaOverB) : IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            var set = l1.Kernels;
            var p = l1._p;
            int stride = p.Stride;
            var xcs = xc.Span;
            var pre = l1._preParts.Span.Slice(part * stride, stride);
            var cols = l1._columns;
            int[] colStart = cols.Start, colEntry = cols.Entry, colToken = cols.Token;
            float[] h = code.H;
            double penalty = 0;
            for (int n = start; n < end; n++)
            {
                int c0 = colStart[n], c1 = colStart[n + 1];
                if (c0 == c1) continue;
                var w = p.DecoderRow(n);
                float norm = MathF.Sqrt(Blas1.Dot(w, w, set));
                float a = p.Scale[n];
                float coef = lambdaOverB * MathF.Abs(a) * norm;   // λ/B · c_m
                var gEnc = grad.EncoderRow(n);
                float sumH = 0;
                for (int c = c0; c < c1; c++)
                {
                    sumH += h[colEntry[c]];
                    Blas1.Axpy(coef, xcs.Slice(colToken[c] * stride, stride), gEnc, set);
                }
                int count = c1 - c0;
                grad.Bias[n] += coef * count;
                Blas1.Axpy(-coef * count, p.EncoderRow(n), pre, set);
                if (norm > 0)
                {
                    Blas1.Axpy(lambdaOverB * MathF.Abs(a) * sumH / norm, w, grad.DecoderRow(n), set);
                    grad.Scale[n] += lambdaOverB * MathF.Sign(a) * norm * sumH;
                }
                penalty += (double)MathF.Abs(a) * norm * sumH;
            }
            l1._lossParts[part] = penalty;
        }
    }
}
