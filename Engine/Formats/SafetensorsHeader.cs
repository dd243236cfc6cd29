using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GbaEngine.Formats;

/// <summary>
/// Reads a .safetensors header without trusting it: u64 LE header length bounded by the file and
/// <see cref="MaxHeaderBytes"/>, a UTF-8 JSON object {name: {dtype, shape, data_offsets}} plus an
/// ignored "__metadata__". Every tensor is validated as the reference Rust implementation does
/// (offsets relative to the byte buffer, size = prod(shape) * dtype size without overflow, tensors
/// tiling the buffer exactly: no overlap, no hole, nothing after), not just the selected one, so a
/// corrupt neighbour cannot hide a wrong read. The selected tensor (by name, or the only one) must be
/// F32/F16/BF16/F64 with shape [N, d] or [batch, seq, d].
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The same cap the reference implementation uses (100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    /// <summary>One validated tensor: dtype and shape as stored, bytes [Begin, End) of the byte buffer.</summary>
    internal readonly record struct Entry(string Name, string DType, long[] Shape, long Begin, long End);

    /// <summary>
    /// The bytes before a file's tensor data, as every writer here emits them: the u64 LE length, then the
    /// header's UTF-8 JSON padded with spaces to a multiple of 8 bytes (so the data buffer that follows is aligned).
    /// </summary>
    public static byte[] Encode(JsonObject header)
    {
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var prefix = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
        json.CopyTo(prefix, 8);
        prefix.AsSpan(8 + json.Length).Fill((byte)' ');
        return prefix;
    }

    public static ShardLayout Parse(string path, MappedFile file, string? tensorName)
    {
        var (entries, bufferStart) = ParseTensors(path, file);
        var tensors = entries.Select(e => e.Name).ToArray();
        Entry chosen;
        if (tensorName is not null)
        {
            int k = Array.IndexOf(tensors, tensorName);
            if (k < 0)
                throw new ActivationFormatException(path, $"no tensor named '{tensorName}': the file holds {List(tensors)}.");
            chosen = entries[k];
        }
        else if (entries.Count == 1) chosen = entries[0];
        else if (entries.Count == 0) throw new ActivationFormatException(path, "the file holds no tensors.");
        else throw new ActivationFormatException(path, $"the file holds {entries.Count} tensors ({List(tensors)}): name one (--tensor NAME / LoaderOptions.TensorName).");

        var dtype = chosen.DType switch
        {
            "F32" => ActivationDType.F32,
            "F16" => ActivationDType.F16,
            "BF16" => ActivationDType.BF16,
            "F64" => ActivationDType.F64,
            _ => throw new ActivationFormatException(path, $"tensor '{chosen.Name}': dtype {chosen.DType} is not supported: expected F32, F16, BF16 or F64."),
        };
        var (rows, dim) = TokenShape.FromShape(path, $"tensor '{chosen.Name}'", chosen.Shape);
        return new ShardLayout(ShardFormat.Safetensors, dtype, rows, dim, bufferStart + chosen.Begin, false, chosen.Shape, chosen.Name);
    }

    /// <summary>
    /// Every tensor of the file, validated as a whole (bounds, sizes, exact tiling of the byte buffer),
    /// and the file offset where the byte buffer starts. Any dtype the format defines is accepted here;
    /// callers decide which they can read.
    /// </summary>
    public static (List<Entry> Entries, long BufferStart) ParseTensors(string path, MappedFile file)
    {
        if (file.Length < 8)
            throw new ActivationFormatException(path, $"offset 0: the file ends inside the 8-byte header length (file is {file.Length} bytes).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file.Prefix(8));
        if (headerLength > MaxHeaderBytes)
            throw new ActivationFormatException(path, $"offset 0: header length {headerLength} bytes: expected at most {MaxHeaderBytes}.");
        if ((long)headerLength > file.Length - 8)
            throw new ActivationFormatException(path, $"offset 8: header claims {headerLength} bytes but only {file.Length - 8} follow (truncated file).");
        if (headerLength < 2)
            throw new ActivationFormatException(path, $"offset 8: header length {headerLength}: expected a JSON object of at least 2 bytes.");

        var json = file.Prefix(8 + (int)headerLength)[8..];
        var entries = ReadEntries(path, json);
        long bufferStart = 8 + (long)headerLength;
        long bufferLength = file.Length - bufferStart;
        Validate(path, entries, bufferStart, bufferLength);
        return (entries, bufferStart);
    }

    static string List(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));

    static List<Entry> ReadEntries(string path, ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 16 });
            using var doc = JsonDocument.ParseValue(ref reader);
            foreach (byte b in json[(int)reader.BytesConsumed..])
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r'))
                    throw new ActivationFormatException(path, $"header offset {8 + reader.BytesConsumed}: expected only padding spaces after the JSON object, found byte 0x{b:X2}.");
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ActivationFormatException(path, $"header: expected a JSON object, found {doc.RootElement.ValueKind}.");

            var entries = new List<Entry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new ActivationFormatException(path, $"header: key '{property.Name}' appears twice.");
                if (property.Name == "__metadata__") continue;
                entries.Add(ReadEntry(path, property.Name, property.Value));
            }
            return entries;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException or FormatException)
        {
            throw new ActivationFormatException(path, $"header: not valid UTF-8 JSON: {e.Message}", e);
        }
    }

    static Entry ReadEntry(string path, string name, JsonElement t)
    {
        string where = $"tensor '{name}'";
        if (t.ValueKind != JsonValueKind.Object)
            throw new ActivationFormatException(path, $"{where}: expected an object with dtype, shape, data_offsets; found {t.ValueKind}.");
        string? dtype = null;
        long[]? shape = null, offsets = null;
        foreach (var field in t.EnumerateObject())
        {
            switch (field.Name)
            {
                case "dtype":
                    if (field.Value.ValueKind != JsonValueKind.String)
                        throw new ActivationFormatException(path, $"{where}: dtype: expected a string, found {field.Value.GetRawText()}.");
                    dtype = field.Value.GetString();
                    break;
                case "shape": shape = ReadInts(path, $"{where}: shape", field.Value); break;
                case "data_offsets": offsets = ReadInts(path, $"{where}: data_offsets", field.Value); break;
            }
        }
        if (dtype is null || shape is null || offsets is null)
            throw new ActivationFormatException(path, $"{where}: missing {(dtype is null ? "dtype" : shape is null ? "shape" : "data_offsets")}.");
        if (offsets.Length != 2)
            throw new ActivationFormatException(path, $"{where}: data_offsets has {offsets.Length} entries: expected [begin, end].");
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    static long[] ReadInts(string path, string where, JsonElement a)
    {
        if (a.ValueKind != JsonValueKind.Array)
            throw new ActivationFormatException(path, $"{where}: expected an array of integers, found {a.ValueKind}.");
        var values = new long[a.GetArrayLength()];
        int i = 0;
        foreach (var v in a.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x) || x < 0)
                throw new ActivationFormatException(path, $"{where}[{i}]: expected a non-negative integer below 2^63, found {v.GetRawText()}.");
            values[i++] = x;
        }
        return values;
    }

    static int ElementSize(string dtype) => dtype switch
    {
        "BOOL" or "U8" or "I8" or "F8_E5M2" or "F8_E4M3" or "F8_E8M0" => 1,
        "I16" or "U16" or "F16" or "BF16" => 2,
        "I32" or "U32" or "F32" => 4,
        "I64" or "U64" or "F64" => 8,
        _ => 0,
    };

    static void Validate(string path, List<Entry> entries, long bufferStart, long bufferLength)
    {
        foreach (var e in entries)
        {
            string where = $"tensor '{e.Name}'";
            int size = ElementSize(e.DType);
            if (size == 0)
                throw new ActivationFormatException(path, $"{where}: unknown dtype '{e.DType}'.");
            if (e.End < e.Begin)
                throw new ActivationFormatException(path, $"{where}: data_offsets [{e.Begin}, {e.End}] end before they begin.");
            if (e.End > bufferLength)
                throw new ActivationFormatException(path, $"{where}: data_offsets [{e.Begin}, {e.End}] reach past the byte buffer ({bufferLength} bytes from file offset {bufferStart}): a truncated file or a wrong header.");
            long bytes = size;
            foreach (long s in e.Shape)
                if (s != 0 && bytes > long.MaxValue / s)
                    throw new ActivationFormatException(path, $"{where}: shape {TokenShape.Format(e.Shape)} of {e.DType} overflows a 64-bit byte count.");
                else bytes *= s;
            if (bytes != e.End - e.Begin)
                throw new ActivationFormatException(path, $"{where}: shape {TokenShape.Format(e.Shape)} of {e.DType} needs {bytes} bytes but data_offsets [{e.Begin}, {e.End}] span {e.End - e.Begin}.");
        }

        long covered = 0;
        Entry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < covered)
                throw new ActivationFormatException(path, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] overlap tensor '{previous!.Value.Name}' [{previous.Value.Begin}, {previous.Value.End}].");
            if (e.Begin > covered)
                throw new ActivationFormatException(path, $"tensor '{e.Name}': data_offsets begin at {e.Begin}, expected {covered} (a hole in the byte buffer).");
            covered = e.End;
            previous = e;
        }
        if (covered != bufferLength)
            throw new ActivationFormatException(path, $"offset {bufferStart + covered}: tensors cover {covered} bytes of the {bufferLength}-byte buffer: expected exactly the whole buffer ({(covered < bufferLength ? "extra bytes after the last tensor" : "truncated")}).");
    }
}
