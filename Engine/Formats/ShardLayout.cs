namespace GbaEngine.Formats;

/// <summary>
/// What a header parser established about a file, already validated against the file length:
/// rows x dim elements of <see cref="DType"/> starting at <see cref="DataOffset"/>, row-major unless
/// <see cref="FortranOrder"/> (then column-major [Rows, Dim], transposed on read).
/// <see cref="Shape"/> is the shape as stored (2-D or 3-D), for reports.
/// </summary>
internal sealed record ShardLayout(ShardFormat Format, ActivationDType DType, long Rows, int Dim, long DataOffset, bool FortranOrder, long[] Shape, string? TensorName);

/// <summary>Shape rules shared by every self-describing format: [tokens, d] or [batch, seq, d] flattened to tokens.</summary>
internal static class TokenShape
{
    public static (long Rows, int Dim) FromShape(string path, string where, IReadOnlyList<long> shape)
    {
        long rows;
        long dim;
        switch (shape.Count)
        {
            case 2: rows = shape[0]; dim = shape[1]; break;
            case 3:
                if (shape[0] != 0 && shape[1] > long.MaxValue / shape[0])
                    throw new ActivationFormatException(path, $"{where}: shape {Format(shape)} has more tokens than a 64-bit count can hold.");
                rows = shape[0] * shape[1];
                dim = shape[2];
                break;
            default:
                throw new ActivationFormatException(path, $"{where}: shape {Format(shape)} has {shape.Count} dimension(s): expected [tokens, d] or [batch, seq, d].");
        }
        if (dim < 1 || dim > int.MaxValue)
            throw new ActivationFormatException(path, $"{where}: shape {Format(shape)} has row width d = {dim}: expected 1 <= d <= {int.MaxValue}.");
        return (rows, (int)dim);
    }

    /// <summary>Bytes of rows x dim elements, or null if that overflows a long.</summary>
    public static long? DataBytes(long rows, int dim, ActivationDType dtype)
    {
        try { return checked(rows * dim * dtype.ByteSize()); }
        catch (OverflowException) { return null; }
    }

    public static string Format(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";
}
