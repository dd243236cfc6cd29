using GbaEngine.Encoders;
using GbaEngine.Inference;
using GbaEngine.Interop;
using GbaEngine.Kernels;
using GbaEngine.Model;

namespace GbaEngine.Uses;

/// <summary>Receives one token's sparse code: active feature indices (ascending) and their values.</summary>
public delegate void SparseRowSink(ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

/// <summary>
/// Activation rows to sparse codes for any SAE directory the engine reads: a one-pass <see cref="SaeModel"/>
/// (this engine's export or run directory, SAELens, sparsify), or this engine's matching-pursuit export, which
/// has no one-pass encoder: its trained pursuit runs through <see cref="ChunkedEncoder"/> and the coefficients
/// are scaled to the export's units (what SAELens' matching_pursuit reports for the directory). `gba encode`,
/// `gba features` and `gba select` all encode through here. Not safe to share between threads.
/// </summary>
public sealed class CorpusEncoder : IDisposable
{
    readonly SparseAutoencoder? _pursuit;
    readonly ChunkedEncoder? _chunked;
    readonly float _scale;
    readonly int _threads;
    readonly SparseFeatureBatch _codes = new();

    CorpusEncoder(SaeModel? model, SparseAutoencoder? pursuit, int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Model = model;
        _pursuit = pursuit;
        _threads = threads;
        if (pursuit == null) return;
        _scale = SaeLensExport.MatchingPursuitFeatureScale(pursuit);
        _chunked = new ChunkedEncoder(pursuit, threads);
    }

    /// <summary>Opens the SAE at <paramref name="path"/> (an SAE or run directory, any layout <see cref="SaeDirectory"/> detects).</summary>
    /// <param name="path">The directory.</param>
    /// <param name="threads">Worker threads of the encoder (codes do not depend on them).</param>
    /// <param name="kernels">The kernel set to run on (default: the model's, <see cref="KernelSelector.Current"/>).</param>
    public static CorpusEncoder Open(string path, int threads, KernelSet? kernels = null)
    {
        if (MatchingPursuitImport.IsMatchingPursuit(path)) return new CorpusEncoder(null, MatchingPursuitImport.Read(path, kernels), threads);
        var model = SaeModel.Load(path);
        return new CorpusEncoder(kernels is { } k ? model.WithKernels(k) : model, null, threads);
    }

    /// <summary>Wraps a loaded one-pass model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="threads">Worker threads of the encoder.</param>
    public static CorpusEncoder For(SaeModel model, int threads) => new(model ?? throw new ArgumentNullException(nameof(model)), null, threads);

    /// <summary>The one-pass model, or null for a matching-pursuit SAE.</summary>
    public SaeModel? Model { get; }

    /// <summary>Input width d.</summary>
    public int Dim => Model?.Dim ?? _pursuit!.Dim;

    /// <summary>Dictionary size M.</summary>
    public int Features => Model?.Features ?? _pursuit!.Neurons;

    /// <summary>The activation as cfg.json's architecture names it (relu, jumprelu, topk, or matching_pursuit).</summary>
    public string Activation => Model?.Activation.ToString().ToLowerInvariant() ?? SaeLensExport.MatchingPursuitArchitecture;

    /// <summary>Where the SAE was loaded from, or null.</summary>
    public string? Source => Model?.Source;

    /// <summary>Encodes the <paramref name="rows"/> rows [rows × d] of <paramref name="x"/>, handing each row's code to
    /// <paramref name="sink"/> in order (the spans are valid only during the call).</summary>
    public void Encode(ReadOnlySpan<float> x, int rows, SparseRowSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (x.Length < (long)rows * Dim) throw new ArgumentException($"{x.Length} floats hold fewer than {rows} rows of d = {Dim}.", nameof(x));
        if (Model != null)
        {
            Model.EncodeBatch(x[..(rows * Dim)], rows, _codes, _threads);
            for (int t = 0; t < rows; t++) sink(_codes.Indices(t), _codes.Values(t));
            return;
        }
        _chunked!.Encode(x, rows, new Scaled(sink, _scale));
    }

    /// <summary>Releases the pursuit's threads.</summary>
    public void Dispose() => _chunked?.Dispose();

    sealed class Scaled(SparseRowSink sink, float scale) : IEncodedChunkVisitor
    {
        float[] _values = [];

        public void Visit(int first, int rows, ReadOnlySpan<float> normalized, ReadOnlySpan<float> factors, SparseCode code)
        {
            for (int t = 0; t < rows; t++)
            {
                var v = code.Values(t);
                if (_values.Length < v.Length) _values = new float[v.Length];
                for (int i = 0; i < v.Length; i++) _values[i] = v[i] * scale;
                sink(code.Indices(t), _values.AsSpan(0, v.Length));
            }
        }
    }
}
