using GbaEngine.Kernels.Elementwise;

namespace GbaEngine.Formats;

/// <summary>
/// Reads named tensors of a .safetensors file into fp32 arrays, for SAE weights. The header goes
/// through the loader's strict parser (<see cref="SafetensorsHeader.ParseTensors"/>: bounds, sizes
/// and exact tiling of the byte buffer are checked for every tensor before any is read), so a
/// truncated or lying file fails on open. F32, F16, BF16 and F64 tensors are converted; every
/// failure is a <see cref="InvalidDataException"/> naming the file and the tensor.
/// </summary>
internal sealed unsafe class SafetensorsReader : IDisposable
{
    readonly MappedFile _file;
    readonly Dictionary<string, SafetensorsHeader.Entry> _tensors;
    readonly long _bufferStart;

    SafetensorsReader(MappedFile file, List<SafetensorsHeader.Entry> entries, long bufferStart)
    {
        _file = file;
        _bufferStart = bufferStart;
        _tensors = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
    }

    public string Path => _file.Path;

    public IEnumerable<string> Names => _tensors.Keys.Order(StringComparer.Ordinal);

    public static SafetensorsReader Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw Error(path, "file not found.");
        if (info.Length == 0) throw Error(path, "the file is empty (0 bytes): expected safetensors weights.");
        MappedFile? file = null;
        try
        {
            file = MappedFile.Open(path);
            var (entries, start) = SafetensorsHeader.ParseTensors(path, file);
            return new SafetensorsReader(file, entries, start);
        }
        catch (ActivationFormatException e)
        {
            file?.Dispose();
            throw new InvalidDataException(e.Message, e);
        }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor converted to fp32, after checking it exists and has the expected shape.</summary>
    /// <param name="shape">Expected shape.</param>
    /// <param name="dims">Names of the expected dimensions, for the message (e.g. "d_in, d_sae").</param>
    /// <param name="note">Why the tensor is needed, if not obvious.</param>
    public float[] Read(string name, long[] shape, string dims, string? note = null)
    {
        string expected = $"[{dims}] = {TokenShape.Format(shape)} from cfg.json";
        if (!_tensors.TryGetValue(name, out var e))
            throw Error(Path, $"no tensor '{name}' (expected {expected}{(note is null ? "" : "; " + note)}); the file holds {List()}.");
        if (!e.Shape.AsSpan().SequenceEqual(shape))
            throw Error(Path, $"tensor '{name}' has shape {TokenShape.Format(e.Shape)}: expected {expected}.");
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count > Array.MaxLength)
            throw Error(Path, $"tensor '{name}' has {count} elements: more than one array can hold.");
        var data = new float[count];
        byte* src = _file.Pointer + _bufferStart + e.Begin;
        int n = (int)count;
        switch (e.DType)
        {
            case "F32": new ReadOnlySpan<float>(src, n).CopyTo(data); break;
            case "F16": HalfToSingle.Convert(new ReadOnlySpan<ushort>(src, n), data); break;
            case "BF16": BFloat16ToSingle.Convert(new ReadOnlySpan<ushort>(src, n), data); break;
            case "F64": DoubleToSingle.Convert(new ReadOnlySpan<double>(src, n), data); break;
            default: throw Error(Path, $"tensor '{name}': dtype {e.DType} is not supported: expected F32, F16, BF16 or F64.");
        }
        if (NonFinite.Any(data))
        {
            int i = Array.FindIndex(data, v => !float.IsFinite(v));
            throw Error(Path, $"tensor '{name}': element {i} is {data[i]}: SAE weights must be finite.");
        }
        return data;
    }

    string List() => _tensors.Count == 0 ? "no tensors" : string.Join(", ", Names.Select(n => $"'{n}'"));

    public void Dispose() => _file.Dispose();

    static InvalidDataException Error(string path, string message) => new($"{path}: {message}");
}
