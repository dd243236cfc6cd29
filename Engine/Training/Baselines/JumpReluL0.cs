using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Encoders;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// JumpReLU trained with an L0 penalty (Rajamanoharan et al. 2024, "Jumping Ahead"), on the engine's
/// JumpReLU form h = z·1[z &gt; θ] with θ_m = −b_m. The loss per token is 0.5‖x̂ − x‖² + λ·Σ_m 1[z_m &gt; θ_m].
/// Neither term has a useful derivative in θ, so θ is trained by the paper's straight-through
/// estimator with a rectangle kernel of bandwidth ε (K(u) = 1 for |u| &lt; ½):
///   ð/ðθ JumpReLU_θ(z) := −(θ/ε)·K((z − θ)/ε)        ð/ðθ H(z − θ) := −(1/ε)·K((z − θ)/ε)
/// hence ∂L/∂b_m = −∂L/∂θ_m = 1/B·Σ_{t: |y_tm| &lt; ε/2} [ (θ_m/ε)·a_m·(e_t·w_m) + λ/ε ] with y = z + b,
/// where a_m·(e_t·w_m) is ∂(0.5‖e_t‖²)/∂h_tm. Everything else is JumpReLU's ordinary gradient (the
/// estimator touches θ only, as in the paper), which SparseBackward computes from the active code.
/// The window needs pre-activations just below the threshold: the encoder emits them (its firing
/// threshold moved down by ε, h = z) and each entry is sorted by y = z + b, the same float the gate
/// fires on, into active (y &gt; 0) and window (|y| &lt; ε/2) entries. θ is kept ≥ 0 (b ≤ 0) after each step,
/// so the gate never emits negative values.
/// </summary>
internal sealed class JumpReluL0 : IBaselineStep
{
    readonly SaeParameters _p;
    readonly SparseCode _emitted = new();
    readonly double[] _biasGrad;
    int[] _windowToken = new int[1024];
    int[] _windowNeuron = new int[1024];
    int _window;

    /// <summary>The kernel set it runs (the trainer sets its own; default: the process's).</summary>
    internal KernelSet Kernels { get; set; } = KernelSelector.Current;

    public JumpReluL0(SaeParameters parameters, double lambda, double bandwidth, double initialThreshold)
    {
        if (!(bandwidth > 0)) throw new ArgumentException($"The STE bandwidth must be positive (got {bandwidth}).");
        _p = parameters;
        Lambda = lambda;
        Bandwidth = bandwidth;
        InitialThreshold = initialThreshold;
        _biasGrad = new double[parameters.Neurons];
    }

    public double Lambda { get; }
    public double Bandwidth { get; }
    public double InitialThreshold { get; }

    /// <summary>Entries of the last batch inside the estimator's window (|y| &lt; ε/2).</summary>
    public int WindowEntries => _window;

    /// <summary>The last batch's window entries as (token, neuron), in token-major order.</summary>
    internal IEnumerable<(int Token, int Neuron)> Window()
    {
        for (int i = 0; i < _window; i++) yield return (_windowToken[i], _windowNeuron[i]);
    }

    /// <summary>Fills code with the active entries (y &gt; 0, h = z) and keeps the window entries for <see cref="Add"/>.</summary>
    public void Encode(BatchEncoder encoder, AlignedArray x, int rows, SparseCode code)
    {
        // Emitting from y ≳ −ε (not −ε/2) leaves room for the rounding of b + ε: every entry with
        // float y > −ε/2 is emitted as long as ε/2 exceeds that rounding (TrainerOptions bounds ε below).
        float eps = (float)Bandwidth, half = 0.5f * eps;
        encoder.Encode(x, rows, _emitted, null, -eps);
        var b = _p.Bias;
        code.Reset(rows);
        code.EnsureCapacity(_emitted.Count);
        if (_windowToken.Length < _emitted.Count)
        {
            _windowToken = new int[_emitted.Count];
            _windowNeuron = new int[_emitted.Count];
        }
        int o = 0, w = 0;
        for (int t = 0; t < rows; t++)
        {
            code.RowStart[t] = o;
            for (int r = _emitted.RowStart[t]; r < _emitted.RowStart[t + 1]; r++)
            {
                int m = _emitted.Index[r];
                float z = _emitted.H[r];
                float y = z + b[m];          // bitwise the gate's y
                if (y > 0f)
                {
                    code.Index[o] = m;
                    code.H[o++] = z;
                }
                if (y > -half && y < half)
                {
                    _windowToken[w] = t;
                    _windowNeuron[w++] = m;
                }
            }
        }
        code.RowStart[rows] = o;
        _window = w;
    }

    /// <summary>
    /// Adds the estimator's gradient for b (θ) to grad, from the window of the last <see cref="Encode"/>
    /// and the errors e_t of the decode; returns the penalty λ·L0 (mean per token).
    /// </summary>
    public double Add(AlignedArray error, int rows, SparseCode code, SaeParameters grad)
    {
        if (rows == 0) return 0;
        var set = Kernels;
        int stride = _p.Stride;
        var err = error.Span;
        var b = _p.Bias;
        var scale = _p.Scale;
        double eps = Bandwidth;
        Array.Clear(_biasGrad);
        for (int i = 0; i < _window; i++)
        {
            int t = _windowToken[i], m = _windowNeuron[i];
            double g = Blas1.Dot(err.Slice(t * stride, stride), _p.DecoderRow(m), set);
            double theta = -b[m];
            _biasGrad[m] += theta / eps * scale[m] * g + Lambda / eps;
        }
        var gb = grad.Bias;
        for (int m = 0; m < gb.Length; m++) gb[m] += (float)(_biasGrad[m] / rows);
        return Lambda * code.L0;
    }

    /// <summary>θ ≥ 0: b = min(b, 0).</summary>
    public void Project(SaeParameters p)
    {
        foreach (ref float v in p.Bias) if (v > 0f) v = 0f;
    }

    void IBaselineStep.Initialize(SaeParameters p) => p.Bias.Fill((float)-InitialThreshold);

    void IBaselineStep.Encode(BatchEncoder encoder, AlignedArray x, int rows, SparseCode code) => Encode(encoder, x, rows, code);

    double IBaselineStep.AddGradients(BatchEncoder encoder, SparseBackward backward, int rows, SparseCode code, SaeParameters grad,
        long step, long totalSteps) => Add(backward.Error, rows, code, grad);

    void IBaselineStep.AfterStep(SaeParameters p) => Project(p);

    void IBaselineStep.Publish(SparseAutoencoder model) { }
}
