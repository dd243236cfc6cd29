using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;

namespace GbaEngine.Model;

/// <summary>
/// A trained (or training) SAE: its architecture, its parameters and how inputs are normalised.
/// y_m = u_m·(x̃ − b_pre) + b_m; f_m = a_m·gate; x̂ = Σ f_m w_m + b_pre, with x̃ the normalised input
/// (x·InputScale, or x/‖x‖ per token) and outputs mapped back to the original scale.
/// </summary>
public sealed class SparseAutoencoder
{
    /// <summary>A model of <paramref name="architecture"/> over <paramref name="parameters"/> (not copied).</summary>
    /// <param name="kernels">The kernel set it runs on (default: <see cref="KernelSelector.Current"/>, i.e. GBA_KERNELS or the best this CPU has).</param>
    public SparseAutoencoder(SaeArchitecture architecture, SaeParameters parameters, InputNormalization normalization, float inputScale,
        KernelSet? kernels = null)
    {
        Kernels = kernels ?? KernelSelector.Current;
        if (!KernelSelector.IsSupported(Kernels))
            throw new PlatformNotSupportedException($"Kernel set {Kernels} is not supported by this CPU (best available: {KernelSelector.Best}).");
        architecture.Validate();
        if (parameters.Dim != architecture.Dim || parameters.Neurons != architecture.Neurons || parameters.Tied != architecture.Tied)
            throw new ArgumentException("Parameters do not match the architecture.");
        Architecture = architecture;
        Parameters = parameters;
        Normalization = normalization;
        InputScale = inputScale;
    }

    /// <summary>The form; training replaces it only to publish BatchTopK's inference threshold.</summary>
    public SaeArchitecture Architecture { get; private set; }
    /// <summary>The kernel set every computation with this model runs on (its encoders, decoder, normalisation and training).</summary>
    public KernelSet Kernels { get; }
    /// <summary>The flat parameter buffer (trained in place).</summary>
    public SaeParameters Parameters { get; }
    /// <summary>How inputs are normalised.</summary>
    public InputNormalization Normalization { get; }
    /// <summary>The dataset-level factor s (x̃ = s·x) when Normalization is DatasetScale.</summary>
    public float InputScale { get; internal set; }

    /// <summary>Sets <see cref="SaeArchitecture.ReluThreshold"/> (BatchTopK publishes its running estimate).</summary>
    internal void SetReluThreshold(float threshold)
    {
        var arch = Architecture with { ReluThreshold = threshold };
        arch.Validate();
        Architecture = arch;
    }

    /// <summary>Input width d.</summary>
    public int Dim => Architecture.Dim;
    /// <summary>Number of neurons M.</summary>
    public int Neurons => Architecture.Neurons;

    /// <summary>Writes the normalised token into dst (length ≥ d) and returns the factor to map errors back (1/s or ‖x‖).</summary>
    public float Normalize(ReadOnlySpan<float> x, Span<float> dst)
    {
        x = x[..Dim];
        if (Normalization == InputNormalization.DatasetScale)
        {
            ElementwiseDriver.Map<ScaleOperator, float>(InputScale, x, dst, Kernels);
            return 1f / InputScale;
        }
        // Summed in double in index order rather than on SumDriver: normalised tokens stay the same
        // bits under every kernel set (the multiply below is exact-op, so it may follow the set).
        double n2 = 0;
        for (int j = 0; j < x.Length; j++) n2 += (double)x[j] * x[j];
        float norm = (float)Math.Sqrt(n2);
        ElementwiseDriver.Map<ScaleOperator, float>(norm > 0 ? 1f / norm : 0f, x, dst, Kernels);
        return norm;
    }

    /// <summary>
    /// Normalises raw rows [rows × d] into a padded batch [rows × Stride] (padding zeroed) and writes each
    /// row's factor back to the original scale.
    /// </summary>
    public void NormalizeBatch(ReadOnlySpan<float> raw, int rows, Span<float> batch, Span<float> factors)
    {
        int d = Dim, stride = Parameters.Stride;
        for (int t = 0; t < rows; t++)
        {
            var dst = batch.Slice(t * stride, stride);
            factors[t] = Normalize(raw.Slice(t * d, d), dst);
            dst[d..].Clear();
        }
    }

    /// <summary>As <see cref="NormalizeBatch(ReadOnlySpan{float}, int, Span{float}, Span{float})"/>
    /// over the pool's threads (fixed token ranges; each token's result is the same either way).</summary>
    internal void NormalizeBatch(float[] raw, int rows, Memory.AlignedArray batch, float[] factors, Threading.WorkerPool pool)
    {
        if ((long)raw.Length < (long)rows * Dim || batch.Length < (long)rows * Parameters.Stride || factors.Length < rows)
            throw new ArgumentException("NormalizeBatch: a buffer is shorter than the batch.");
        pool.For(rows, new NormalizeBatchJob(this, raw, batch, factors), granule: 64);
    }

    readonly struct NormalizeBatchJob(SparseAutoencoder model, float[] raw, Memory.AlignedArray batch, float[] factors) : Threading.IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            int d = model.Dim, stride = model.Parameters.Stride;
            model.NormalizeBatch(raw.AsSpan(start * d, (end - start) * d), end - start,
                batch.Span.Slice(start * stride, (end - start) * stride), factors.AsSpan(start, end - start));
        }
    }

    /// <summary>Rescales every decoder row to unit norm (the theory trains on the sphere).</summary>
    public void NormalizeDecoderRows(int threads)
    {
        using var pool = new Threading.WorkerPool(Math.Max(1, threads));
        NormalizeDecoderRows(pool);
    }

    /// <summary>As <see cref="NormalizeDecoderRows(int)"/> on an existing pool (no allocation).</summary>
    internal void NormalizeDecoderRows(Threading.WorkerPool pool) => pool.For(Neurons, new NormalizeRowsJob(Parameters, Kernels), granule: 16);

    readonly struct NormalizeRowsJob(SaeParameters p, KernelSet set) : Threading.IRangeJob
    {
        public void Run(int part, int start, int end)
        {
            int d = p.Dim, stride = p.Stride;
            var dec = p.Decoder;
            for (int m = start; m < end; m++) RowNorm.Normalize(dec.Slice(m * stride, d), set);
        }
    }
}
