using System.Collections.Concurrent;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Model;
using GbaEngine.Threading;
using GbaEngine.Encoders;
using GbaEngine.Interop;

namespace GbaEngine.Inference;

/// <summary>
/// A sparse autoencoder ready for inference, whatever trained it: this engine, SAELens or sparsify.
/// One formula serves every layout (SAELens' conventions, in the original activation space):
/// <code>
///   x'  = normalise(x)                      (None, or per token: ConstantNormRescale, LayerNorm)
///   pre = W_enc (x' − c) + b_enc            c = b_dec if ApplyDecoderBiasToInput, else 0
///   f   = relu(pre) | pre·1[pre &gt; θ] | top-k positive pre
///   x̂   = denormalise(W_decᵀ f + b_dec)
/// </code>
/// Immutable once built, so any number of threads may encode and decode at once: each call takes its
/// own scratch (pooled per model, one SGEMM context each) and returns or fills caller-owned results.
/// Batch encodes run the encoder product on the SGEMM; a single vector uses dot products, so the two
/// agree within fp32 rounding rather than bit for bit.
/// </summary>
public sealed unsafe class SaeModel
{
    /// <summary>Bound on the pre-activation block one batch chunk holds (floats): 16 MB.</summary>
    const int ChunkFloats = 1 << 22;

    readonly float[] _wEnc;      // [M × d] row m = the encoder direction of feature m
    readonly float[] _bEnc;      // [M]
    readonly float[] _wDec;      // [M × d] row m = the decoder direction of feature m
    readonly float[] _bDec;      // [d]
    readonly float[] _threshold; // [M] JumpReLU only, else empty
    readonly float[] _negThreshold;
    readonly bool _hasEncoderBias;
    readonly int _chunkRows;
    readonly ConcurrentBag<Scratch> _pool = new();
    KernelSet _kernels = KernelSelector.Current;

    /// <summary>Builds a model from weights in the layout above (all arrays are copied).</summary>
    /// <param name="dim">Input width d (SAELens d_in).</param>
    /// <param name="features">Dictionary size M (SAELens d_sae).</param>
    /// <param name="encoder">[M × d] row-major: row m is feature m's encoder direction (SAELens W_encᵀ, sparsify encoder.weight).</param>
    /// <param name="encoderBias">[M] b_enc.</param>
    /// <param name="decoder">[M × d] row-major: row m is feature m's decoder direction (W_dec).</param>
    /// <param name="decoderBias">[d] b_dec.</param>
    /// <param name="activation">Relu, JumpRelu (needs <paramref name="threshold"/>) or TopK (needs <paramref name="k"/>).</param>
    /// <param name="threshold">[M] JumpReLU thresholds θ: a feature is active when pre &gt; θ.</param>
    /// <param name="k">Active features per token for TopK.</param>
    /// <param name="applyDecoderBiasToInput">Subtract b_dec from the (normalised) input before encoding.</param>
    /// <param name="normalization">Per-token input normalisation, undone on the output.</param>
    public SaeModel(int dim, int features, ReadOnlySpan<float> encoder, ReadOnlySpan<float> encoderBias, ReadOnlySpan<float> decoder,
        ReadOnlySpan<float> decoderBias, SaeActivation activation, ReadOnlySpan<float> threshold = default, int k = 0,
        bool applyDecoderBiasToInput = true, InputNormalization normalization = InputNormalization.None)
        : this(dim, features, encoder.ToArray(), encoderBias.ToArray(), decoder.ToArray(), decoderBias.ToArray(), activation,
            activation == SaeActivation.JumpRelu ? threshold.ToArray() : [], k, applyDecoderBiasToInput, normalization, SaeLayout.InMemory, null)
    {
    }

    /// <summary>Takes ownership of the weights' arrays (a loader's or the export's).</summary>
    internal SaeModel(Interop.SaeWeights w)
        : this(w.Dim, w.Features, w.Encoder, w.EncoderBias, w.Decoder, w.DecoderBias, w.Activation, w.Threshold, w.K,
            w.ApplyDecoderBiasToInput, w.Normalization, w.Layout, w.Source)
    {
    }

    /// <summary>Takes ownership of the arrays (loaders build them once; no second copy of large matrices).</summary>
    internal SaeModel(int dim, int features, float[] encoder, float[] encoderBias, float[] decoder, float[] decoderBias,
        SaeActivation activation, float[] threshold, int k, bool applyDecoderBiasToInput, InputNormalization normalization,
        SaeLayout layout, string? source)
    {
        if (dim < 1) throw new ArgumentOutOfRangeException(nameof(dim), dim, "Input width d must be positive.");
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "Feature count M must be positive.");
        long matrix = (long)dim * features;
        if (matrix > Array.MaxLength) throw new ArgumentException($"d = {dim} × M = {features} weights do not fit in one array.");
        CheckLength(encoder, matrix, nameof(encoder), "M × d");
        CheckLength(decoder, matrix, nameof(decoder), "M × d");
        CheckLength(encoderBias, features, nameof(encoderBias), "M");
        CheckLength(decoderBias, dim, nameof(decoderBias), "d");
        if (!Enum.IsDefined(activation)) throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        if (!Enum.IsDefined(normalization)) throw new ArgumentOutOfRangeException(nameof(normalization), normalization, "Unknown normalisation.");
        if (activation == SaeActivation.JumpRelu) CheckLength(threshold, features, nameof(threshold), "M (JumpReLU needs a threshold per feature)");
        if (activation == SaeActivation.TopK && (k < 1 || k > features))
            throw new ArgumentOutOfRangeException(nameof(k), k, $"TopK needs 1 <= k <= M = {features}.");

        Dim = dim;
        Features = features;
        Activation = activation;
        K = activation == SaeActivation.TopK ? k : 0;
        ApplyDecoderBiasToInput = applyDecoderBiasToInput;
        Normalization = normalization;
        Layout = layout;
        Source = source;
        _wEnc = encoder;
        _bEnc = encoderBias;
        _wDec = decoder;
        _bDec = decoderBias;
        _threshold = activation == SaeActivation.JumpRelu ? threshold : [];
        // Gate.Apply fires where pre + (−θ) > 0, which in IEEE arithmetic is exactly pre > θ.
        _negThreshold = _threshold.Select(t => -t).ToArray();
        _hasEncoderBias = Array.Exists(encoderBias, b => b != 0);
        _chunkRows = Math.Clamp(ChunkFloats / features, 1, 256);
    }

    static void CheckLength(float[] a, long expected, string name, string what)
    {
        ArgumentNullException.ThrowIfNull(a, name);
        if (a.Length != expected) throw new ArgumentException($"{name} has {a.Length} values: expected {expected} ({what}).", name);
    }

    /// <summary>Input width d (SAELens d_in).</summary>
    public int Dim { get; }

    /// <summary>Dictionary size M (SAELens d_sae).</summary>
    public int Features { get; }

    /// <summary>How pre-activations become feature values.</summary>
    public SaeActivation Activation { get; }

    /// <summary>Active features per token for TopK; 0 otherwise.</summary>
    public int K { get; }

    /// <summary>Whether b_dec is subtracted from the input before encoding (SAELens apply_b_dec_to_input).</summary>
    public bool ApplyDecoderBiasToInput { get; }

    /// <summary>Per-token input normalisation (undone on the output).</summary>
    public InputNormalization Normalization { get; }

    /// <summary>The layout it was loaded from.</summary>
    public SaeLayout Layout { get; }

    /// <summary>The directory it was loaded from, or null.</summary>
    public string? Source { get; }

    /// <summary>The kernel set its encoder and decoder run on (default: <see cref="KernelSelector.Current"/>).</summary>
    public KernelSet Kernels => _kernels;

    /// <summary>The same model (sharing its weights) running on another kernel set.</summary>
    public SaeModel WithKernels(KernelSet kernels)
    {
        if (!KernelSelector.IsSupported(kernels))
            throw new PlatformNotSupportedException($"Kernel set {kernels} is not supported by this CPU (best available: {KernelSelector.Best}).");
        return new SaeModel(Dim, Features, _wEnc, _bEnc, _wDec, _bDec, Activation, _threshold, K, ApplyDecoderBiasToInput, Normalization, Layout, Source)
        {
            _kernels = kernels,
        };
    }

    /// <summary>Feature m's encoder direction [d].</summary>
    public ReadOnlySpan<float> EncoderRow(int m) => _wEnc.AsSpan(CheckFeature(m) * Dim, Dim);

    /// <summary>Feature m's decoder direction [d] (what the feature writes into the activation space).</summary>
    public ReadOnlySpan<float> DecoderRow(int m) => _wDec.AsSpan(CheckFeature(m) * Dim, Dim);

    /// <summary>[M] b_enc.</summary>
    public ReadOnlySpan<float> EncoderBias => _bEnc;

    /// <summary>[d] b_dec.</summary>
    public ReadOnlySpan<float> DecoderBias => _bDec;

    /// <summary>[M] JumpReLU thresholds; empty for other activations.</summary>
    public ReadOnlySpan<float> Threshold => _threshold;

    int CheckFeature(int m) => (uint)m < (uint)Features ? m : throw new ArgumentOutOfRangeException(nameof(m), m, $"Feature outside [0, {Features}).");

    /// <summary>Loads an SAE directory, detecting its layout: this engine's export (or a `gba train --out` run
    /// directory holding one in sae/), SAELens (cfg.json + sae_weights.safetensors) or sparsify (cfg.json +
    /// sae.safetensors). Throws <see cref="InvalidDataException"/> naming the file for anything wrong.</summary>
    public static SaeModel Load(string directory) => new(Interop.SaeDirectory.Read(directory));

    /// <summary>
    /// The same SAE as an inference model, exactly as <see cref="Interop.SaeLensExport"/> writes it: the
    /// dataset scale folded into the weights (or per-token norm as ConstantNormRescale), the output scale a
    /// folded into the decoder rows, JumpReLU thresholds θ = −b, then (except TopK) the decoder norms folded
    /// into the encoder so decoder rows are unit norm. Feature values are therefore the ones SAELens reports
    /// for the exported directory: the engine's f = a·h mapped to activation units along a unit decoder row.
    /// </summary>
    public static SaeModel FromAutoencoder(SparseAutoencoder sae)
    {
        if (sae.Architecture.Sparsity == SparsityMode.MatchingPursuit)
            throw new NotSupportedException("A matching-pursuit SAE has no one-pass encoder: run it with MatchingPursuitEncoder.");
        return new SaeModel(Interop.SaeLensExport.Tensors(sae));
    }

    // ---------------------------------------------------------------- encode

    /// <summary>Encodes one token x [d] into its active features.</summary>
    /// <exception cref="ArgumentException">x does not hold exactly d values, or holds NaN or infinity.</exception>
    public SparseFeatures Encode(ReadOnlySpan<float> x)
    {
        CheckRows(x, 1, nameof(x));
        var s = Rent();
        try
        {
            var (scale, shift) = Prepare(x[..Dim], s.Row);
            var z = s.PreActivations(1).AsSpan(0, Features);
            var row = s.Row.AsSpan(0, Dim);
            var set = _kernels;
            for (int m = 0; m < Features; m++) z[m] = Blas1.Dot(_wEnc.AsSpan(m * Dim, Dim), row, set);
            int n = GateRow(z, s, s.Index, s.Value, set);
            return new SparseFeatures(s.Index.AsSpan(0, n).ToArray(), s.Value.AsSpan(0, n).ToArray(), scale, shift);
        }
        finally
        {
            _pool.Add(s);
        }
    }

    /// <summary>Encodes <paramref name="rows"/> tokens x [rows × d] into a new batch.</summary>
    /// <exception cref="ArgumentException">x does not hold exactly rows × d values, or a token holds NaN or infinity.</exception>
    /// <param name="threads">Worker threads (contiguous token ranges; results do not depend on the count).</param>
    public SparseFeatureBatch EncodeBatch(ReadOnlySpan<float> x, int rows, int threads = 1)
    {
        var batch = new SparseFeatureBatch();
        EncodeBatch(x, rows, batch, threads);
        return batch;
    }

    /// <summary>Encodes <paramref name="rows"/> tokens x [rows × d] into <paramref name="into"/>, reusing its arrays.</summary>
    public void EncodeBatch(ReadOnlySpan<float> x, int rows, SparseFeatureBatch into, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        CheckRows(x, rows, nameof(x));
        into.Reset(rows);
        int parts = Math.Min(threads, Math.Max(1, rows / 16));
        fixed (float* px = x)
        {
            nint source = (nint)px;
            if (parts == 1)
            {
                var s = Rent();
                try { EncodeRange(source, 0, rows, into, s); }
                finally { _pool.Add(s); }
                return;
            }
            var scratch = new Scratch[parts];
            for (int p = 0; p < parts; p++) scratch[p] = Rent();
            try
            {
                FixedPartition.Run(rows, parts, (part, start, end) =>
                {
                    var s = scratch[part];
                    s.Part.Reset(end - start);
                    EncodeRange(source, start, end, s.Part, s);
                });
                // Parts are contiguous token ranges: concatenating them in order gives the sequential batch.
                for (int p = 0; p < parts; p++)
                {
                    var (start, end) = FixedPartition.Range(rows, parts, p);
                    if (start < end) into.CopyFrom(scratch[p].Part, start);
                }
            }
            finally
            {
                foreach (var s in scratch) _pool.Add(s);
            }
        }
    }

    /// <summary>Tokens [start, end) of the batch at source into dst (dst token 0 = token start), chunk by chunk through the SGEMM.</summary>
    void EncodeRange(nint source, int start, int end, SparseFeatureBatch dst, Scratch s)
    {
        int d = Dim, m = Features;
        var set = _kernels;
        var xs = new ReadOnlySpan<float>((float*)source, end * d);
        int perToken = Activation == SaeActivation.TopK ? K : m;
        for (int c0 = start; c0 < end; c0 += _chunkRows)
        {
            int n = Math.Min(_chunkRows, end - c0);
            var xc = s.Centred(n);
            var scales = s.Scales;
            for (int i = 0; i < n; i++)
            {
                var (scale, shift) = Prepare(xs.Slice((c0 + i) * d, d), xc.AsSpan(i * d, d));
                scales[2 * i] = scale;
                scales[2 * i + 1] = shift;
            }
            var z = s.PreActivations(n);
            fixed (float* pw = _wEnc)
            fixed (float* px = xc)
            fixed (float* pz = z)
                s.Gemm.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, n, m, d, 1f, px, d, pw, d, 0f, pz, m);
            for (int i = 0; i < n; i++)
            {
                int token = c0 + i - start;
                dst.Reserve(token, perToken, out var idx, out var val);
                int count = GateRow(z.AsSpan(i * m, m), s, idx, val, set);
                dst.Commit(token, count, scales[2 * i], scales[2 * i + 1]);
            }
        }
    }

    /// <summary>Normalises and centres one token into dst [d]; returns the output mapping (scale, shift).</summary>
    (float Scale, float Shift) Prepare(ReadOnlySpan<float> x, Span<float> dst)
    {
        int d = Dim;
        float scale = 1f, shift = 0f;
        switch (Normalization)
        {
            case InputNormalization.None:
                x[..d].CopyTo(dst);
                break;
            case InputNormalization.PerToken:
            {
                double n2 = 0;
                for (int j = 0; j < d; j++) n2 += (double)x[j] * x[j];
                double norm = Math.Sqrt(n2);
                // A zero token maps to zero both ways (SAELens would divide by zero).
                float coeff = norm > 0 ? (float)(Math.Sqrt(d) / norm) : 0f;
                for (int j = 0; j < d; j++) dst[j] = x[j] * coeff;
                scale = (float)(norm / Math.Sqrt(d));
                break;
            }
            case InputNormalization.LayerNorm:
            {
                double sum = 0;
                for (int j = 0; j < d; j++) sum += x[j];
                float mu = (float)(sum / d);
                double ss = 0;
                for (int j = 0; j < d; j++) { double c = x[j] - mu; ss += c * c; }
                float std = d > 1 ? (float)Math.Sqrt(ss / (d - 1)) : 0f;   // torch.std: Bessel's correction
                float inv = 1f / (std + 1e-5f);
                for (int j = 0; j < d; j++) dst[j] = (x[j] - mu) * inv;
                scale = std;
                shift = mu;
                break;
            }
        }
        if (ApplyDecoderBiasToInput)
            for (int j = 0; j < d; j++) dst[j] -= _bDec[j];
        return (scale, shift);
    }

    /// <summary>Activation of one pre-activation row z [M] (without b_enc); writes ascending indices and values, returns the count.</summary>
    int GateRow(Span<float> z, Scratch s, Span<int> idx, Span<float> val, KernelSet set)
    {
        switch (Activation)
        {
            case SaeActivation.TopK:
                return Gate.TopK(z, _bEnc, K, s.FireCount, s.MaxY, idx, val, s.HeapIndex, s.HeapValue, set);
            case SaeActivation.Relu:
                return Gate.Apply(z, _bEnc, jumpRelu: false, s.FireCount, s.MaxY, idx, val, set);
            default:
                if (_hasEncoderBias) Blas1.Axpy(1f, _bEnc, z, set);
                return Gate.Apply(z, _negThreshold, jumpRelu: true, s.FireCount, s.MaxY, idx, val, set);
        }
    }

    // ---------------------------------------------------------------- decode

    /// <summary>x̂ [d] from one token's features.</summary>
    public float[] Decode(SparseFeatures features)
    {
        var xhat = new float[Dim];
        Decode(features, xhat);
        return xhat;
    }

    /// <summary>Writes x̂ [d] from one token's features into <paramref name="xhat"/>.</summary>
    public void Decode(SparseFeatures features, Span<float> xhat)
    {
        ArgumentNullException.ThrowIfNull(features);
        Decode(features.Indices, features.Values, xhat, features.OutputScale, features.OutputShift);
    }

    /// <summary>x̂ = (W_decᵀ f + b_dec)·outputScale + outputShift for features given as (index, value) pairs.</summary>
    public void Decode(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> xhat, float outputScale = 1f, float outputShift = 0f)
    {
        if (indices.Length != values.Length) throw new ArgumentException($"{indices.Length} indices but {values.Length} values.", nameof(values));
        if (xhat.Length != Dim) throw new ArgumentException($"xhat holds {xhat.Length} floats: expected exactly d = {Dim}.", nameof(xhat));
        foreach (int i in indices)
            if ((uint)i >= (uint)Features) throw new ArgumentOutOfRangeException(nameof(indices), i, $"Feature index outside [0, {Features}).");
        DecodeRow(indices, values, outputScale, outputShift, xhat[..Dim], _kernels);
    }

    /// <summary>Decodes every token of a batch into xhat [Tokens × d].</summary>
    public void DecodeBatch(SparseFeatureBatch features, Span<float> xhat, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int rows = features.Tokens, d = Dim;
        if (xhat.Length != (long)rows * d) throw new ArgumentException($"xhat holds {xhat.Length} floats: {rows} tokens × d = {d} are exactly {(long)rows * d}.", nameof(xhat));
        foreach (int i in features.AllIndices)
            if ((uint)i >= (uint)Features) throw new ArgumentOutOfRangeException(nameof(features), i, $"Feature index outside [0, {Features}).");
        fixed (float* px = xhat)
        {
            nint target = (nint)px;
            FixedPartition.Run(rows, Math.Min(threads, Math.Max(1, rows / 16)), (_, start, end) =>
            {
                var set = _kernels;
                var dst = new Span<float>((float*)target, rows * d);
                for (int t = start; t < end; t++)
                    DecodeRow(features.Indices(t), features.Values(t), features.OutputScale(t), features.OutputShift(t), dst.Slice(t * d, d), set);
            });
        }
    }

    void DecodeRow(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, float scale, float shift, Span<float> xhat, KernelSet set)
    {
        int d = Dim;
        _bDec.CopyTo(xhat);
        for (int r = 0; r < indices.Length; r++) Blas1.Axpy(values[r], _wDec.AsSpan(indices[r] * d, d), xhat, set);
        if (Normalization != InputNormalization.None)
            for (int j = 0; j < d; j++) xhat[j] = xhat[j] * scale + shift;
    }

    // ---------------------------------------------------------------- reconstruct

    /// <summary>x̂ [d] = decode(encode(x)) for one token.</summary>
    public float[] Reconstruct(ReadOnlySpan<float> x) => Decode(Encode(x));

    /// <summary>xhat [rows × d] = decode(encode(x)) for a batch x [rows × d].</summary>
    public void ReconstructBatch(ReadOnlySpan<float> x, int rows, Span<float> xhat, int threads = 1) =>
        DecodeBatch(EncodeBatch(x, rows, threads), xhat, threads);

    /// <summary>
    /// Tokens must be exactly rows × d finite values: a longer span is a caller's mix-up of rows and widths
    /// (silently reading a prefix hides it), and a NaN token would come back with no features at all.
    /// </summary>
    void CheckRows(ReadOnlySpan<float> x, int rows, string name)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (x.Length != (long)rows * Dim)
            throw new ArgumentException($"{name} holds {x.Length} floats: {rows} token(s) × d = {Dim} are exactly {(long)rows * Dim}.", name);
        if (!NonFinite.Any(x, _kernels)) return;
        for (int t = 0; t < rows; t++)
            if (NonFinite.AnyScalar(x.Slice(t * Dim, Dim)))
                throw new ArgumentException($"{name}: token {t} holds NaN or infinity; an SAE encodes finite activations only.", name);
    }

    Scratch Rent() => _pool.TryTake(out var s) ? s : new Scratch(this);

    /// <summary>One caller's working memory: an SGEMM context (not thread-safe, hence one per caller) and buffers.</summary>
    sealed class Scratch(SaeModel model)
    {
        readonly int _d = model.Dim, _m = model.Features;
        float[] _z = [];
        float[] _xc = [];
        SgemmContext? _gemm;

        public readonly float[] Row = new float[model.Dim];
        public readonly int[] Index = new int[model.Features];
        public readonly float[] Value = new float[model.Features];
        // Gate statistics the kernels keep for training; inference ignores them.
        public readonly int[] FireCount = new int[model.Features];
        public readonly float[] MaxY = new float[model.Features];
        public readonly int[] HeapIndex = new int[Math.Max(1, model.K)];
        public readonly float[] HeapValue = new float[Math.Max(1, model.K)];
        public readonly float[] Scales = new float[2 * model._chunkRows];
        public readonly SparseFeatureBatch Part = new();

        public SgemmContext Gemm => _gemm ??= new SgemmContext(1, model._kernels);

        public float[] PreActivations(int rows) => Grow(ref _z, (long)rows * _m);

        public float[] Centred(int rows) => Grow(ref _xc, (long)rows * _d);

        static float[] Grow(ref float[] a, long n)
        {
            if (a.Length < n) a = new float[n];
            return a;
        }
    }
}
