using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GbaEngine.Checkpoints;

/// <summary>
/// The array half of a checkpoint (tensors.safetensors): 1-D tensors in the safetensors layout
/// (u64 header length, JSON header padded with spaces to 8 bytes, data back to back), so standard
/// tools can open it. F32 for the parameter buffer, moments and max pre-activations, I64 for the
/// firing counts, I32 for the group ids. Arrays are streamed in slices: a multi-GB parameter
/// buffer never needs a second copy.
/// </summary>
static class CheckpointTensors
{
    /// <summary>One tensor to write: exactly one of the three buffers is set.</summary>
    public readonly record struct Source(string Name, ReadOnlyMemory<float> F32 = default, ReadOnlyMemory<long> I64 = default,
        ReadOnlyMemory<int> I32 = default, string DType = "F32")
    {
        public static Source Floats(string name, ReadOnlyMemory<float> data) => new(name, F32: data, DType: "F32");
        public static Source Longs(string name, ReadOnlyMemory<long> data) => new(name, I64: data, DType: "I64");
        public static Source Ints(string name, ReadOnlyMemory<int> data) => new(name, I32: data, DType: "I32");

        public long Count => DType switch { "F32" => F32.Length, "I64" => I64.Length, _ => I32.Length };
        public int ElementSize => DType == "I64" ? 8 : 4;
    }

    const int SliceBytes = 16 << 20;
    const long MaxHeaderBytes = 1 << 20;

    public static void Write(HashedFileWriter w, IReadOnlyList<Source> tensors)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("Checkpoints are written on little-endian machines only.");
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = CheckpointJson.Format } };
        long offset = 0;
        foreach (var t in tensors)
        {
            long bytes = t.Count * t.ElementSize;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = t.DType,
                ["shape"] = new JsonArray(t.Count),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var prefix = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        prefix.AsSpan(8).Fill((byte)' ');
        json.CopyTo(prefix, 8);
        w.Write(prefix);
        foreach (var t in tensors)
        {
            switch (t.DType)
            {
                case "F32": WriteSlices(w, t.F32.Span); break;
                case "I64": WriteSlices(w, t.I64.Span); break;
                default: WriteSlices(w, t.I32.Span); break;
            }
        }
    }

    static void WriteSlices<T>(HashedFileWriter w, ReadOnlySpan<T> data) where T : unmanaged
    {
        int per = SliceBytes / Marshal.SizeOf<T>();
        for (int i = 0; i < data.Length; i += per)
            w.Write(MemoryMarshal.AsBytes(data.Slice(i, Math.Min(per, data.Length - i))));
    }

    /// <summary>
    /// Reads every tensor of the file, checking each against <paramref name="expected"/> (name →
    /// dtype and element count) so a damaged header cannot make it allocate or read out of bounds;
    /// then verifies the file's digest.
    /// </summary>
    public static Dictionary<string, Array> Read(HashedFileReader r, IReadOnlyDictionary<string, (string DType, long Count)> expected)
    {
        Span<byte> lengthBytes = stackalloc byte[8];
        r.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > r.Remaining)
            throw new InvalidDataException($"{r.Path}: header length {headerLength} is implausible for a file of {r.Remaining + 8} bytes.");
        var headerBytes = new byte[headerLength];
        r.ReadExactly(headerBytes);
        var header = CheckpointStore.ParseJson(r.Path, headerBytes);

        var json = new CheckpointJson.Reader(r.Path);
        var layout = new List<(string Name, string DType, long Count, long Begin, long End)>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            if (!expected.TryGetValue(name, out var want)) throw json.Error($"unexpected tensor \"{name}\"");
            var t = json.AsObject(node, name);
            string dtype = json.String(t, "dtype");
            var shape = json.Array(t, "shape");
            var offsets = json.Array(t, "data_offsets");
            if (dtype != want.DType || shape.Count != 1 || json.DoubleValue(shape[0], "shape") != want.Count || offsets.Count != 2)
                throw json.Error($"tensor \"{name}\" is {dtype} {shape.ToJsonString()}, expected {want.DType} [{want.Count}]");
            long begin = (long)json.DoubleValue(offsets[0], "data_offsets"), end = (long)json.DoubleValue(offsets[1], "data_offsets");
            if (end - begin != want.Count * (dtype == "I64" ? 8 : 4)) throw json.Error($"tensor \"{name}\" has data_offsets [{begin}, {end}) that do not fit its shape");
            layout.Add((name, dtype, want.Count, begin, end));
        }
        foreach (var name in expected.Keys)
            if (!layout.Exists(l => l.Name == name)) throw json.Error($"missing tensor \"{name}\"");

        layout.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        long at = 0;
        var result = new Dictionary<string, Array>();
        foreach (var (name, dtype, count, begin, end) in layout)
        {
            if (begin != at) throw json.Error($"tensor \"{name}\" starts at {begin}, expected {at} (gap or overlap)");
            if (end - begin > r.Remaining) throw json.Error($"tensor \"{name}\" ends past the end of the file");
            result[name] = dtype switch
            {
                "F32" => ReadSlices<float>(r, count),
                "I64" => ReadSlices<long>(r, count),
                _ => ReadSlices<int>(r, count),
            };
            at = end;
        }
        r.VerifyDigest();
        return result;
    }

    static T[] ReadSlices<T>(HashedFileReader r, long count) where T : unmanaged
    {
        var data = GC.AllocateUninitializedArray<T>(checked((int)count));
        int per = SliceBytes / Marshal.SizeOf<T>();
        for (int i = 0; i < data.Length; i += per)
            r.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan(i, Math.Min(per, data.Length - i))));
        return data;
    }
}
