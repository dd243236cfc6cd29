using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace GbaEngine.Formats;

/// <summary>
/// Streams a sparse [rows × columns] matrix into one safetensors file in CSR form, the layout of
/// scipy.sparse.csr_matrix((values, indices, indptr), shape):
/// <c>indptr</c> I64 [rows + 1], <c>indices</c> I32 [nnz], <c>values</c> F32 [nnz], with
/// <c>__metadata__</c> {"format": "csr", "shape": "[rows, columns]", ...} (safetensors metadata values are
/// strings). Rows are appended in order; nnz is unknown until the end, so indices and values go to two
/// spill files beside the output and are copied behind the header on <see cref="Complete"/>, which
/// writes a temporary file and renames it: the output name only ever holds a complete file.
/// </summary>
public sealed class CsrSafetensorsWriter : IDisposable
{
    readonly string _path, _indicesSpill, _valuesSpill;
    readonly FileStream _indices, _values;
    readonly List<long> _indptr = [0];
    readonly int _columns;
    long _nnz;

    /// <summary>Starts a file of rows × <paramref name="columns"/> (spill files beside it until <see cref="Complete"/>).</summary>
    public CsrSafetensorsWriter(string path, int columns)
    {
        _path = Path.GetFullPath(path);
        _columns = columns;
        var dir = Path.GetDirectoryName(_path)!;
        var stem = $".{Path.GetFileName(_path)}.{Environment.ProcessId}";
        _indicesSpill = Path.Combine(dir, stem + ".indices.tmp");
        _valuesSpill = Path.Combine(dir, stem + ".values.tmp");
        _indices = new FileStream(_indicesSpill, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        _values = new FileStream(_valuesSpill, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
    }

    /// <summary>Rows appended so far.</summary>
    public long Rows => _indptr.Count - 1;
    /// <summary>Non-zeros appended so far.</summary>
    public long NonZeros => _nnz;

    /// <summary>Appends one row: its column indices (ascending, in [0, columns)) and values.</summary>
    public void AppendRow(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length) throw new ArgumentException("A row needs as many values as indices.");
        foreach (var i in indices)
            if ((uint)i >= (uint)_columns) throw new ArgumentOutOfRangeException(nameof(indices), i, $"Column index outside [0, {_columns}).");
        _indices.Write(MemoryMarshal.AsBytes(indices));
        _values.Write(MemoryMarshal.AsBytes(values));
        _nnz += indices.Length;
        _indptr.Add(_nnz);
    }

    /// <summary>Writes the file (header, indptr, indices, values) and removes the spill files.</summary>
    public void Complete(IReadOnlyDictionary<string, string> metadata)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors output needs a little-endian machine.");
        long rows = Rows;
        var meta = new JsonObject { ["format"] = "csr", ["shape"] = $"[{rows}, {_columns}]" };
        foreach (var (k, v) in metadata) meta[k] = v;
        long indptrBytes = (rows + 1) * 8, indexBytes = _nnz * 4, valueBytes = _nnz * 4;
        var header = new JsonObject
        {
            ["__metadata__"] = meta,
            ["indptr"] = Tensor("I64", rows + 1, 0, indptrBytes),
            ["indices"] = Tensor("I32", _nnz, indptrBytes, indptrBytes + indexBytes),
            ["values"] = Tensor("F32", _nnz, indptrBytes + indexBytes, indptrBytes + indexBytes + valueBytes),
        };
        var prefix = SafetensorsHeader.Encode(header);
        _indices.Flush();
        _values.Flush();
        AtomicFile.Write(_path, fs =>
        {
            fs.Write(prefix);
            fs.Write(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(_indptr)));
            _indices.Position = 0;
            _indices.CopyTo(fs);
            _values.Position = 0;
            _values.CopyTo(fs);
        });
        Dispose();
    }

    static JsonObject Tensor(string dtype, long count, long begin, long end) => new()
    {
        ["dtype"] = dtype,
        ["shape"] = new JsonArray(count),
        ["data_offsets"] = new JsonArray(begin, end),
    };

    /// <summary>Removes the spill files (and, if <see cref="Complete"/> never ran, leaves no output at all).</summary>
    public void Dispose()
    {
        _indices.Dispose();
        _values.Dispose();
        File.Delete(_indicesSpill);
        File.Delete(_valuesSpill);
    }
}
