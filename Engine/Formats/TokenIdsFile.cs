using System.Buffers.Binary;

namespace GbaEngine.Formats;

/// <summary>
/// Token ids as a NumPy .npy array: int32 or int64 (little-endian), shape [sequences, tokens], C order —
/// what `tokenizer(...)["input_ids"]` saved with np.save gives. The ids a model was run on, one row per
/// sequence; the header is read by the same strict parser as activation files.
/// </summary>
public static class TokenIdsFile
{
    /// <summary>Reads <paramref name="path"/> into row-major ids [Rows × Columns]. Throws
    /// <see cref="ActivationFormatException"/> naming the file for a wrong dtype, rank or length.</summary>
    public static (long[] Ids, int Rows, int Columns) Read(string path)
    {
        if (!File.Exists(path)) throw new ActivationFormatException(path, "file not found.");
        using var file = MappedFile.Open(path);
        var (descr, fortran, shape, dataOffset) = NpyHeader.ReadHeader(path, file);
        int size = descr switch
        {
            "<i8" => 8,
            "<i4" => 4,
            _ => throw new ActivationFormatException(path, $"header: dtype '{descr}': token ids must be '<i4' or '<i8' (little-endian int32 or int64)."),
        };
        if (shape.Length != 2)
            throw new ActivationFormatException(path, $"header: shape {TokenShape.Format(shape)}: token ids must be 2-D [sequences, tokens] (one row per sequence).");
        if (fortran)
            throw new ActivationFormatException(path, "header: fortran_order True: save the ids in C order (np.ascontiguousarray).");
        if (shape[0] < 1 || shape[1] < 1 || shape[0] > int.MaxValue || shape[1] > int.MaxValue || shape[0] * shape[1] > Array.MaxLength)
            throw new ActivationFormatException(path, $"header: shape {TokenShape.Format(shape)}: expected at least one sequence of at least one token, and at most {Array.MaxLength} ids.");
        long count = shape[0] * shape[1];
        long found = file.Length - dataOffset;
        if (found != count * size)
            throw new ActivationFormatException(path, $"offset {dataOffset}: shape {TokenShape.Format(shape)} of '{descr}' needs {count * size} data bytes, found {found}" +
                (found < count * size ? " (truncated file)." : " (extra bytes after the array)."));
        var ids = new long[count];
        unsafe
        {
            byte* data = file.Pointer + dataOffset;
            for (long i = 0; i < count; i++)
                ids[i] = size == 8 ? BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(data + i * 8, 8))
                                   : BinaryPrimitives.ReadInt32LittleEndian(new ReadOnlySpan<byte>(data + i * 4, 4));
        }
        return (ids, (int)shape[0], (int)shape[1]);
    }
}
