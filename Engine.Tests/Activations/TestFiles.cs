using System.Buffers.Binary;
using System.Text;
using GbaEngine.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Tests.Activations;

/// <summary>
/// Test-only writers for the formats the loader reads, written from the format specs rather than
/// from the loader's code, plus data that is exactly representable in each dtype so round trips can
/// be compared bit for bit.
/// </summary>
static class TestFiles
{
    /// <summary>Finite values exactly representable in <paramref name="dtype"/> (negatives, zeros and f16 subnormals included).</summary>
    public static float[] Values(int count, ActivationDType dtype, int seed)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            switch (dtype)
            {
                case ActivationDType.F16:
                    ushort h;
                    do h = (ushort)rng.Next(0x10000); while ((h & 0x7C00) == 0x7C00);
                    v[i] = (float)BitConverter.UInt16BitsToHalf(h);
                    break;
                case ActivationDType.BF16:
                    uint b;
                    do b = (uint)rng.Next(0x10000); while ((b & 0x7F80) == 0x7F80);
                    v[i] = BitConverter.UInt32BitsToSingle(b << 16);
                    break;
                default:
                    v[i] = (float)(rng.NextDouble() * 200 - 100);
                    break;
            }
        }
        return v;
    }

    public static byte[] Encode(ReadOnlySpan<float> values, ActivationDType dtype)
    {
        var bytes = new byte[values.Length * dtype.ByteSize()];
        for (int i = 0; i < values.Length; i++)
        {
            switch (dtype)
            {
                case ActivationDType.F32: BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]); break;
                case ActivationDType.F64: BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]); break;
                case ActivationDType.F16: BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]); break;
                case ActivationDType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16)); break;
            }
        }
        return bytes;
    }

    public static string NpyDescr(ActivationDType dtype) => dtype switch
    {
        ActivationDType.F32 => "<f4",
        ActivationDType.F16 => "<f2",
        ActivationDType.F64 => "<f8",
        _ => throw new ArgumentException("npy has no bf16"),
    };

    public static string SafetensorsDType(ActivationDType dtype) => dtype.ToString();

    /// <summary>An .npy file as NumPy writes it: magic, version, length, dict padded with spaces to 64 bytes, newline.</summary>
    public static byte[] Npy(string descr, long[] shape, byte[] data, int version = 1, bool fortran = false) =>
        NpyWithHeader($"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': ({(shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape))}), }}", data, version);

    public static byte[] NpyWithHeader(string dict, byte[] data, int version = 1)
    {
        int prelude = version == 1 ? 10 : 12;
        int total = (prelude + Encoding.UTF8.GetByteCount(dict) + 1 + 63) / 64 * 64;
        var header = Encoding.UTF8.GetBytes(dict.PadRight(total - prelude - 1) + "\n");
        var file = new byte[prelude + header.Length + data.Length];
        file[0] = 0x93;
        "NUMPY"u8.CopyTo(file.AsSpan(1));
        file[6] = (byte)version;
        if (version == 1) BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), (ushort)header.Length);
        else BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(8), (uint)header.Length);
        header.CopyTo(file, prelude);
        data.CopyTo(file, prelude + header.Length);
        return file;
    }

    public record Tensor(string Name, string DType, long[] Shape, byte[] Data);

    /// <summary>A .safetensors file: tensors packed in order, header padded with spaces to 8 bytes.</summary>
    public static byte[] Safetensors(IReadOnlyList<Tensor> tensors, string? metadata = "{\"format\":\"pt\"}")
    {
        var json = new StringBuilder("{");
        if (metadata is not null) json.Append($"\"__metadata__\":{metadata},");
        long offset = 0;
        foreach (var t in tensors)
        {
            json.Append($"\"{t.Name}\":{{\"dtype\":\"{t.DType}\",\"shape\":[{string.Join(",", t.Shape)}],\"data_offsets\":[{offset},{offset + t.Data.Length}]}},");
            offset += t.Data.Length;
        }
        if (json[^1] == ',') json.Length--;
        json.Append('}');
        return SafetensorsWithHeader(json.ToString(), tensors.SelectMany(t => t.Data).ToArray());
    }

    public static byte[] SafetensorsWithHeader(string json, byte[] buffer)
    {
        var header = Encoding.UTF8.GetBytes(json);
        int padded = (header.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + buffer.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        file.AsSpan(8, padded).Fill((byte)' ');
        header.CopyTo(file, 8);
        buffer.CopyTo(file, 8 + padded);
        return file;
    }

    public static float[] ColumnMajor(float[] rowMajor, int rows, int dim)
    {
        var t = new float[rowMajor.Length];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < dim; c++)
                t[c * rows + r] = rowMajor[r * dim + c];
        return t;
    }

    /// <summary>All rows of a dataset, via the loader's random-access read.</summary>
    public static float[] ReadAll(ActivationDataset ds)
    {
        var all = new float[ds.TokenCount * ds.Dim];
        ds.ReadRows(0, (int)ds.TokenCount, all);
        return all;
    }

    public static void AssertBitsEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToUInt32Bits(expected[i]) != BitConverter.SingleToUInt32Bits(actual[i]))
                Assert.Fail($"element {i}: expected {expected[i]} (0x{BitConverter.SingleToUInt32Bits(expected[i]):X8}), got {actual[i]} (0x{BitConverter.SingleToUInt32Bits(actual[i]):X8})");
    }

    /// <summary>&lt;repo&gt;/../shared/data, found by walking up from the test assembly.</summary>
    public static string SharedData(string file)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data", file);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"shared/data/{file} not found above {AppContext.BaseDirectory}");
    }
}

/// <summary>A scratch directory removed after the test.</summary>
sealed class TempDir(string prefix = "gba-loader-") : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public string File(string name, byte[] bytes)
    {
        var p = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllBytes(p, bytes);
        return p;
    }

    public string Sub(string name) => Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;

    /// <summary>The path of <paramref name="name"/> inside the directory (not created).</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}
