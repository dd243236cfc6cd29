using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;

namespace GbaEngine.Formats;

/// <summary>
/// Writes one safetensors file of dense [rows, d] tensors a batch of rows at a time, without holding it in
/// memory: the header (every tensor's dtype, shape and offsets, tensors back to back in the given order) is
/// known before the first row, so each batch goes straight to its offset. The values come in as fp32 and are
/// stored as F32, F16 (IEEE round to nearest even) or BF16 (round to nearest even, what torch's
/// <c>.to(torch.bfloat16)</c> does). The file is written under <see cref="PartialSuffix"/> and renamed by
/// <see cref="Complete"/>, so a file under its own name is whole; one disposed before completion is deleted.
/// </summary>
public sealed class SafetensorsRowWriter : IDisposable
{
    /// <summary>Appended to the file name until <see cref="Complete"/> renames it.</summary>
    public const string PartialSuffix = ".partial";

    readonly string _path, _partial;
    readonly SafeFileHandle _file;
    readonly long[] _tensorStart;
    readonly int[] _width;
    readonly ActivationDType _dtype;
    readonly long _rows;
    bool _done;

    /// <param name="path">The file's final name.</param>
    /// <param name="tensors">Each tensor's name and row width d, in file order.</param>
    /// <param name="rows">Rows every tensor holds.</param>
    /// <param name="dtype">F32, F16 or BF16.</param>
    /// <param name="metadata">Strings for the header's __metadata__ (none when null).</param>
    public SafetensorsRowWriter(string path, IReadOnlyList<(string Name, int Width)> tensors, long rows, ActivationDType dtype,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (dtype is not (ActivationDType.F32 or ActivationDType.F16 or ActivationDType.BF16))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Row tensors are written as f32, f16 or bf16.");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors output needs a little-endian machine.");
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        _path = path;
        _partial = path + PartialSuffix;
        _dtype = dtype;
        _rows = rows;
        _width = tensors.Select(t => t.Width > 0 ? t.Width : throw new ArgumentOutOfRangeException(nameof(tensors), t.Width, $"Tensor {t.Name}: width must be positive.")).ToArray();
        var header = new JsonObject();
        if (metadata is not null)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        _tensorStart = new long[tensors.Count];
        string name = dtype switch { ActivationDType.F32 => "F32", ActivationDType.F16 => "F16", _ => "BF16" };
        for (int t = 0; t < tensors.Count; t++)
        {
            long bytes = checked(rows * tensors[t].Width * dtype.ByteSize());
            header[tensors[t].Name] = new JsonObject
            {
                ["dtype"] = name,
                ["shape"] = new JsonArray(rows, tensors[t].Width),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            _tensorStart[t] = offset;
            offset += bytes;
        }
        var prefix = SafetensorsHeader.Encode(header);
        for (int t = 0; t < tensors.Count; t++) _tensorStart[t] += prefix.Length;
        _file = File.OpenHandle(_partial, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, preallocationSize: prefix.Length + offset);
        RandomAccess.SetLength(_file, prefix.Length + offset);
        RandomAccess.Write(_file, prefix, 0);
    }

    /// <summary>Writes rows [firstRow, firstRow + count) of tensor <paramref name="tensor"/> from fp32 values [count × d].</summary>
    public void Write(int tensor, long firstRow, ReadOnlySpan<float> values)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        int d = _width[tensor];
        if (values.Length % d != 0) throw new ArgumentException($"{values.Length} values are not whole rows of {d}.", nameof(values));
        long count = values.Length / d;
        if (firstRow < 0 || firstRow + count > _rows) throw new ArgumentOutOfRangeException(nameof(firstRow), firstRow, $"Rows past the tensor's {_rows}.");
        long at = _tensorStart[tensor] + firstRow * d * _dtype.ByteSize();
        if (_dtype == ActivationDType.F32)
        {
            RandomAccess.Write(_file, MemoryMarshal.AsBytes(values), at);
            return;
        }
        var buffer = ArrayPool<ushort>.Shared.Rent(values.Length);
        try
        {
            var half = buffer.AsSpan(0, values.Length);
            if (_dtype == ActivationDType.F16) for (int i = 0; i < half.Length; i++) half[i] = BitConverter.HalfToUInt16Bits((Half)values[i]);
            else for (int i = 0; i < half.Length; i++) half[i] = ToBFloat16(values[i]);
            RandomAccess.Write(_file, MemoryMarshal.AsBytes(half), at);
        }
        finally
        {
            ArrayPool<ushort>.Shared.Return(buffer);
        }
    }

    /// <summary>bfloat16 by round-to-nearest-even on the dropped 16 bits; NaN stays NaN (quiet bit set).</summary>
    internal static ushort ToBFloat16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Flushes the file to disk and gives it its name.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        RandomAccess.FlushToDisk(_file);
        _file.Dispose();
        File.Move(_partial, _path, overwrite: true);
        _done = true;
    }

    /// <summary>Closes the file; one not completed is deleted.</summary>
    public void Dispose()
    {
        if (_done) return;
        _done = true;
        _file.Dispose();
        try { File.Delete(_partial); } catch (IOException) { }
    }
}
