using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace GbaEngine.Formats;

/// <summary>
/// Writes F32 tensors in the safetensors layout: u64 little-endian header length, a UTF-8 JSON header
/// {name: {dtype, shape, data_offsets}} padded with spaces to a multiple of 8 bytes (so the data
/// buffer is aligned), then the tensors back to back. Written to a temporary file and renamed, so a
/// reader never sees half a file.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>One F32 tensor: its name, shape and row-major values (prod(shape) of them).</summary>
    public readonly record struct Tensor(string Name, long[] Shape, float[] Data);

    /// <summary>Writes the tensors, in order, to path (optional __metadata__ strings in the header).</summary>
    public static void Write(string path, IReadOnlyList<Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var t in tensors)
        {
            long count = t.Shape.Aggregate(1L, (a, b) => a * b);
            if (count != t.Data.Length) throw new ArgumentException($"Tensor {t.Name}: shape [{string.Join(", ", t.Shape)}] needs {count} values, has {t.Data.Length}.");
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + count * 4),
            };
            offset += count * 4;
        }
        var prefix = SafetensorsHeader.Encode(header);
        var tmp = path + ".tmp-" + Environment.ProcessId;
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            fs.Write(prefix);
            if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors output needs a little-endian machine.");
            foreach (var t in tensors) fs.Write(MemoryMarshal.AsBytes(t.Data.AsSpan()));
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
