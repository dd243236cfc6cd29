using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using GbaEngine.Formats;
using Microsoft.Win32.SafeHandles;

namespace GbaEngine.Onnx.Harvest;

/// <summary>
/// Writes one safetensors shard of a harvest without holding it in memory: the header (one [rows, d] tensor per
/// hook, tensors back to back in hook order) is known before the first row, so each batch's rows go straight to
/// their offsets. The file is written under a ".partial" name and renamed when complete, so a shard that exists
/// under its own name is whole, and an interrupted run leaves only whole shards and one partial file.
/// </summary>
internal sealed class ShardWriter : IDisposable
{
    readonly string _path, _partial;
    readonly SafeFileHandle _file;
    readonly long[] _tensorStart;
    readonly int[] _width;
    readonly ActivationDType _dtype;
    readonly long _rows;
    bool _done;

    /// <param name="path">The shard's final name.</param>
    /// <param name="hooks">Each hook's tensor name and width d, in file order.</param>
    /// <param name="rows">Rows every tensor holds (tokens in the shard).</param>
    /// <param name="dtype">F32, F16 or BF16.</param>
    /// <param name="metadata">Strings for the header's __metadata__.</param>
    public ShardWriter(string path, IReadOnlyList<(string Name, int Width)> hooks, long rows, ActivationDType dtype, IReadOnlyDictionary<string, string> metadata)
    {
        if (dtype is not (ActivationDType.F32 or ActivationDType.F16 or ActivationDType.BF16))
            throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Harvest shards are f32, f16 or bf16.");
        _path = path;
        _partial = path + ".partial";
        _dtype = dtype;
        _rows = rows;
        _width = hooks.Select(h => h.Width).ToArray();
        var header = new JsonObject();
        var meta = new JsonObject();
        foreach (var (k, v) in metadata) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        _tensorStart = new long[hooks.Count];
        string name = dtype switch { ActivationDType.F32 => "F32", ActivationDType.F16 => "F16", _ => "BF16" };
        for (int h = 0; h < hooks.Count; h++)
        {
            long bytes = rows * hooks[h].Width * dtype.ByteSize();
            header[hooks[h].Name] = new JsonObject
            {
                ["dtype"] = name,
                ["shape"] = new JsonArray(rows, hooks[h].Width),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            _tensorStart[h] = offset;
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var prefix = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        json.CopyTo(prefix, 8);
        prefix.AsSpan(8 + json.Length).Fill((byte)' ');
        for (int h = 0; h < hooks.Count; h++) _tensorStart[h] += prefix.Length;
        _file = File.OpenHandle(_partial, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, preallocationSize: prefix.Length + offset);
        RandomAccess.SetLength(_file, prefix.Length + offset);
        RandomAccess.Write(_file, prefix, 0);
    }

    /// <summary>Writes rows [firstRow, firstRow + count) of hook <paramref name="hook"/> from fp32 values [count × d].</summary>
    public void Write(int hook, long firstRow, ReadOnlySpan<float> values)
    {
        int d = _width[hook];
        if (values.Length % d != 0) throw new ArgumentException($"{values.Length} values are not whole rows of {d}.");
        long count = values.Length / d;
        if (firstRow < 0 || firstRow + count > _rows) throw new ArgumentOutOfRangeException(nameof(firstRow), firstRow, $"rows past the shard's {_rows}.");
        long at = _tensorStart[hook] + firstRow * d * _dtype.ByteSize();
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

    /// <summary>bfloat16 by round-to-nearest-even on the dropped 16 bits (what torch's .to(torch.bfloat16) does); NaN stays NaN.</summary>
    internal static ushort ToBFloat16(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        if (float.IsNaN(x)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>Flushes the shard to disk and gives it its name.</summary>
    public void Complete()
    {
        RandomAccess.FlushToDisk(_file);
        _file.Dispose();
        File.Move(_partial, _path, overwrite: true);
        _done = true;
    }

    /// <summary>Closes the file; a shard not completed is deleted.</summary>
    public void Dispose()
    {
        if (_done) return;
        _file.Dispose();
        try { File.Delete(_partial); } catch (IOException) { }
    }
}
