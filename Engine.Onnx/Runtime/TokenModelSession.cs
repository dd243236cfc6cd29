using System.Buffers;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace GbaEngine.Onnx.Runtime;

/// <summary>
/// An ONNX Runtime session over a (possibly edited) language model that takes token ids [batch, sequence].
/// It finds the token input (int32 or int64, rank 2: "input_ids" or the only such input), fills the companion
/// inputs Hugging Face exports carry (attention_mask = 1, position_ids = 0..T-1, token_type_ids = 0), and
/// refuses anything else it would have to invent (a key/value cache, embeddings instead of ids) with one error
/// that names the model and the input. Float tensors spliced into the graph are fed by name.
/// </summary>
public sealed class TokenModelSession : IDisposable
{
    static readonly string[] Companions = ["attention_mask", "position_ids", "token_type_ids"];

    readonly InferenceSession _session;
    readonly RunOptions _run = new();
    readonly string[] _outputs;
    readonly Dictionary<string, InputSpec> _inputs;

    /// <param name="path">The model file (errors name it; external weights are looked up beside it).</param>
    /// <param name="model">The graph to run, usually an edit of the file's.</param>
    /// <param name="threads">ONNX Runtime's intra-op threads.</param>
    /// <param name="spliced">Float inputs the caller feeds on every run (see <see cref="Graph.OnnxGraph.Splice"/>).</param>
    public TokenModelSession(string path, ModelProto model, int threads, IReadOnlyCollection<string>? spliced = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Path = path;
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // An edited model is handed over as bytes; weights stored outside the .onnx file are beside the original.
        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path",
            System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".");
        // The inputs are checked as the file declares them, before ONNX Runtime's own (less specific) load errors.
        var inits = model.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        _inputs = model.Graph.Input.Where(i => !inits.Contains(i.Name)).ToDictionary(i => i.Name, Spec, StringComparer.Ordinal);
        Spliced = spliced?.ToArray() ?? [];
        foreach (var name in Spliced)
            if (!_inputs.ContainsKey(name)) throw new ArgumentException($"{path}: the edited model has no input '{name}'.");
        TokenInput = FindTokenInput();
        if (TokenInput is not null)
        {
            var dims = _inputs[TokenInput].Dims;
            FixedBatch = dims[0] > 0 ? (int)dims[0] : null;
            FixedSequence = dims[1] > 0 ? (int)dims[1] : null;
        }
        try
        {
            _session = new InferenceSession(model.ToByteArray(), options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: ONNX Runtime cannot load the model: {e.Message}", e);
        }
        _outputs = [.. _session.OutputNames];
    }

    /// <summary>A graph input as declared: element type (ONNX and ONNX Runtime number them alike) and dims (-1 when dynamic or unknown).</summary>
    readonly record struct InputSpec(bool IsTensor, TensorElementType Type, long[] Dims);

    static InputSpec Spec(ValueInfoProto v)
    {
        var t = v.Type?.TensorType;
        if (t is null) return new InputSpec(false, TensorElementType.DataTypeMax, []);
        // No declared shape at all (rank unknown) is taken as [batch, sequence]; ONNX Runtime checks the feed.
        var dims = t.Shape?.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : -1L).ToArray() ?? [-1L, -1L];
        return new InputSpec(true, (TensorElementType)t.ElemType, dims);
    }

    /// <summary>The model file.</summary>
    public string Path { get; }

    /// <summary>The input that takes token ids; null when a cut model no longer reads them (only spliced inputs).</summary>
    public string? TokenInput { get; }

    /// <summary>The batch size the model was exported with, when it is not a dynamic axis.</summary>
    public int? FixedBatch { get; }

    /// <summary>The sequence length the model was exported with, when it is not a dynamic axis.</summary>
    public int? FixedSequence { get; }

    /// <summary>The float inputs fed on every run.</summary>
    public IReadOnlyList<string> Spliced { get; }

    /// <summary>The outputs every run returns, in order.</summary>
    public IReadOnlyList<string> OutputNames => _outputs;

    string? FindTokenInput()
    {
        var free = _inputs.Where(kv => !Spliced.Contains(kv.Key)).ToList();
        if (free.Count == 0 && Spliced.Count > 0) return null;
        static bool IsInt(InputSpec m) => m.IsTensor && m.Type is TensorElementType.Int64 or TensorElementType.Int32;
        var ids = free.FirstOrDefault(kv => kv.Key == "input_ids");
        if (ids.Key is null)
        {
            var ints = free.Where(kv => IsInt(kv.Value) && !Companions.Contains(kv.Key)).ToList();
            if (ints.Count != 1)
                throw new InvalidDataException($"{Path}: cannot tell which input takes the token ids: inputs are {Describe(free)}; expected 'input_ids' or exactly one int32/int64 input [batch, sequence].");
            ids = ints[0];
        }
        if (!IsInt(ids.Value))
            throw new InvalidDataException($"{Path}: input '{ids.Key}' is {Describe(ids.Value)}: token ids must be int32 or int64 (a model that takes embeddings cannot be fed token ids).");
        if (ids.Value.Dims.Length != 2)
            throw new InvalidDataException($"{Path}: input '{ids.Key}' has rank {ids.Value.Dims.Length} ({Describe(ids.Value)}): token ids go in as [batch, sequence].");
        foreach (var (name, meta) in free)
        {
            if (name == ids.Key) continue;
            if (!Companions.Contains(name))
                throw new InvalidDataException($"{Path}: input '{name}' ({Describe(meta)}) has no value gba can supply (only token ids and {string.Join(", ", Companions)}); " +
                                               "export the model without it (for Hugging Face decoders: without past key values, use_cache=False).");
            if (!IsInt(meta) || meta.Dims.Length != 2)
                throw new InvalidDataException($"{Path}: input '{name}' is {Describe(meta)}: expected int32 or int64 [batch, sequence].");
        }
        return ids.Key;
    }

    static string Describe(IEnumerable<KeyValuePair<string, InputSpec>> inputs) => string.Join(", ", inputs.Select(kv => $"'{kv.Key}' {Describe(kv.Value)}"));

    static string Describe(InputSpec m) =>
        m.IsTensor ? $"{m.Type.ToString().ToLowerInvariant()} [{string.Join(", ", m.Dims.Select(d => d > 0 ? d.ToString() : "?"))}]" : "not a tensor";

    /// <summary>Checks that a batch of <paramref name="rows"/> sequences of <paramref name="length"/> tokens fits the model's fixed axes.</summary>
    public void CheckShape(int rows, int length)
    {
        if (FixedSequence is { } t && t != length)
            throw new InvalidDataException($"{Path}: input '{TokenInput}' has a fixed sequence length {t}, the tokens have {length} per sequence (use --context {t}, or export with a dynamic sequence axis).");
        if (FixedBatch is { } b && b != rows)
            throw new InvalidDataException($"{Path}: input '{TokenInput}' has a fixed batch size {b} (use --batch {b}, or export with a dynamic batch axis).");
    }

    /// <summary>
    /// Runs one batch: <paramref name="ids"/> [rows × length] row-major, and for each spliced input a float
    /// tensor of the given shape (row-major; the shape the hook had in the clean model). Returns every output;
    /// dispose it before the next run.
    /// </summary>
    public RunResult Run(ReadOnlySpan<long> ids, int rows, int length, IReadOnlyList<(float[] Data, long[] Shape)>? spliced = null)
    {
        if (ids.Length != rows * length) throw new ArgumentException($"{ids.Length} ids for {rows} × {length}.", nameof(ids));
        CheckShape(rows, length);
        if ((spliced?.Count ?? 0) != Spliced.Count) throw new ArgumentException($"expected {Spliced.Count} spliced tensors.", nameof(spliced));
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            long[] shape = [rows, length];
            foreach (var (name, meta) in _inputs)
            {
                if (Spliced.Contains(name)) continue;
                names.Add(name);
                values.Add(name == TokenInput ? Ints(meta, ids, shape)
                    : name == "position_ids" ? Ints(meta, Positions(rows, length), shape)
                    : Ints(meta, Filled(rows * length, name == "attention_mask" ? 1 : 0), shape));
            }
            for (int s = 0; s < Spliced.Count; s++)
            {
                var (data, dims) = spliced![s];
                if (dims.Aggregate(1L, (x, y) => x * y) != data.Length) throw new ArgumentException($"spliced tensor {Spliced[s]}: {data.Length} values for shape [{string.Join(", ", dims)}].");
                names.Add(Spliced[s]);
                values.Add(OrtValue.CreateTensorValueFromMemory(data, dims));
            }
            try
            {
                return new RunResult(Path, _outputs, _session.Run(_run, names, values, _outputs));
            }
            catch (OnnxRuntimeException e)
            {
                throw new InvalidDataException($"{Path}: ONNX Runtime failed on a batch of {rows} × {length} tokens: {e.Message}", e);
            }
        }
        finally
        {
            foreach (var v in values) v.Dispose();
        }
    }

    static OrtValue Ints(InputSpec meta, ReadOnlySpan<long> values, long[] shape)
    {
        if (meta.Type == TensorElementType.Int64) return OrtValue.CreateTensorValueFromMemory(values.ToArray(), shape);
        var narrow = new int[values.Length];
        for (int i = 0; i < narrow.Length; i++) narrow[i] = checked((int)values[i]);
        return OrtValue.CreateTensorValueFromMemory(narrow, shape);
    }

    static long[] Positions(int rows, int length)
    {
        var p = new long[rows * length];
        for (int i = 0; i < p.Length; i++) p[i] = i % length;
        return p;
    }

    static long[] Filled(int count, long value)
    {
        var a = new long[count];
        Array.Fill(a, value);
        return a;
    }

    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }

    /// <summary>The outputs of one run, as float32 (float16 and bfloat16 outputs are widened).</summary>
    public sealed class RunResult : IDisposable
    {
        readonly string _path;
        readonly IReadOnlyList<string> _names;
        readonly IDisposableReadOnlyCollection<OrtValue> _values;
        readonly List<float[]> _rented = [];

        internal RunResult(string path, IReadOnlyList<string> names, IDisposableReadOnlyCollection<OrtValue> values)
        {
            _path = path;
            _names = names;
            _values = values;
        }

        /// <summary>The shape of output <paramref name="index"/>.</summary>
        public long[] Shape(int index) => _values[index].GetTensorTypeAndShape().Shape;

        /// <summary>The values of output <paramref name="index"/>, valid until this result is disposed.</summary>
        public ReadOnlySpan<float> Floats(int index)
        {
            var value = _values[index];
            var info = value.GetTensorTypeAndShape();
            switch (info.ElementDataType)
            {
                case TensorElementType.Float:
                    return value.GetTensorDataAsSpan<float>();
                case TensorElementType.Float16:
                {
                    var half = value.GetTensorDataAsSpan<Float16>();
                    var wide = Rent(half.Length);
                    for (int i = 0; i < half.Length; i++) wide[i] = (float)half[i];
                    return wide.AsSpan(0, half.Length);
                }
                case TensorElementType.BFloat16:
                {
                    var b = value.GetTensorDataAsSpan<BFloat16>();
                    var wide = Rent(b.Length);
                    for (int i = 0; i < b.Length; i++) wide[i] = (float)b[i];
                    return wide.AsSpan(0, b.Length);
                }
                default:
                    throw new InvalidDataException($"output '{_names[index]}' is {info.ElementDataType.ToString().ToLowerInvariant()}: activations must be float32, float16 or bfloat16.");
            }
        }

        /// <summary>
        /// d of output <paramref name="index"/> when it holds one vector per token of a batch of <paramref name="rows"/> ×
        /// <paramref name="length"/> tokens ([rows, length, d] or [rows·length, d]); otherwise an error naming the output.
        /// </summary>
        public int TokenWidth(int index, int rows, int length)
        {
            var shape = Shape(index);
            if (shape.Length == 3 && shape[0] == rows && shape[1] == length && shape[2] > 0) return checked((int)shape[2]);
            if (shape.Length == 2 && shape[0] == (long)rows * length && shape[1] > 0) return checked((int)shape[1]);
            throw new InvalidDataException($"{_path}: '{_names[index]}' has shape [{string.Join(", ", shape)}] for {rows} × {length} tokens: expected one vector " +
                                           $"per token, [{rows}, {length}, d] or [{rows * length}, d] (gba harvest --list shows the per-token tensors).");
        }

        /// <summary>The element type of output <paramref name="index"/>.</summary>
        public TensorElementType ElementType(int index) => _values[index].GetTensorTypeAndShape().ElementDataType;

        float[] Rent(int length)
        {
            var a = ArrayPool<float>.Shared.Rent(length);
            _rented.Add(a);
            return a;
        }

        public void Dispose()
        {
            _values.Dispose();
            foreach (var a in _rented) ArrayPool<float>.Shared.Return(a);
            _rented.Clear();
        }
    }
}
