using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// A safetensors reader written from the format's documentation, independent of the engine's own, so that an
/// export is checked by something other than the code that wrote it. F32 tensors only, as the exports write.
/// </summary>
internal static class IndependentSafetensors
{
    /// <summary>Every tensor of the file by name (the metadata entry skipped), with its shape and row-major data.</summary>
    public static Dictionary<string, (long[] Shape, float[] Data)> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        using var doc = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n));
        var result = new Dictionary<string, (long[], float[])>();
        foreach (var t in doc.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__") continue;
            Assert.Equal("F32", t.Value.GetProperty("dtype").GetString());
            var shape = t.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var off = t.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var data = new float[(off[1] - off[0]) / 4];
            Buffer.BlockCopy(bytes, (int)(8 + n + off[0]), data, 0, data.Length * 4);
            Assert.Equal(shape.Aggregate(1L, (a, b) => a * b), data.Length);
            result[t.Name] = (shape, data);
        }
        return result;
    }
}
