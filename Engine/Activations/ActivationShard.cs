using GbaEngine.Kernels.Elementwise;
using GbaEngine.Formats;

namespace GbaEngine.Activations;

/// <summary>
/// One memory-mapped activation file: Rows tokens of width Dim, in any supported format and dtype,
/// readable as fp32 rows. The format is decided by content first (the .npy magic), then by the
/// .safetensors extension, else raw little-endian binary if the caller gave a dtype and dim.
/// Opening validates the whole layout against the file length, so <see cref="ReadRows"/> needs no
/// checks beyond its row range. Owned and disposed by <see cref="ActivationDataset"/>.
/// </summary>
public sealed unsafe class ActivationShard : IDisposable
{
    readonly MappedFile _file;
    readonly ShardLayout _layout;

    readonly bool _buffered;

    ActivationShard(MappedFile file, ShardLayout layout, bool buffered)
    {
        _file = file;
        _layout = layout;
        _buffered = buffered;
    }

    /// <summary>The file.</summary>
    public string Path => _file.Path;
    /// <summary>Its format.</summary>
    public ShardFormat Format => _layout.Format;
    /// <summary>Its element type.</summary>
    public ActivationDType DType => _layout.DType;
    /// <summary>Token rows it holds.</summary>
    public long Rows => _layout.Rows;
    /// <summary>Row width d.</summary>
    public int Dim => _layout.Dim;
    /// <summary>Shape as stored in the file (2-D or 3-D; raw files report [rows, dim]).</summary>
    public IReadOnlyList<long> Shape => _layout.Shape;
    /// <summary>The safetensors tensor read, else null.</summary>
    public string? TensorName => _layout.TensorName;
    /// <summary>True for a column-major .npy, transposed on read (slower: strided gathers).</summary>
    public bool FortranOrder => _layout.FortranOrder;
    /// <summary>File size in bytes.</summary>
    public long FileBytes => _file.Length;

    /// <summary>Maps a file and validates its header against its length (one <see cref="ActivationFormatException"/> for anything wrong).</summary>
    public static ActivationShard Open(string path, LoaderOptions options)
    {
        var file = MappedFile.Open(path);
        try
        {
            return new ActivationShard(file, ParseLayout(path, file, options), options.Reads == FileReads.Buffered);
        }
        catch (ActivationFormatException)
        {
            file.Dispose();
            throw;
        }
        catch (Exception e) when (e is OverflowException or ArgumentException or IndexOutOfRangeException or InvalidOperationException)
        {
            // A parser bug must still surface as a bad-file report, never as a crash in the trainer.
            file.Dispose();
            throw new ActivationFormatException(path, $"malformed header ({e.GetType().Name}: {e.Message}).", e);
        }
    }

    static ShardLayout ParseLayout(string path, MappedFile file, LoaderOptions options)
    {
        var extension = System.IO.Path.GetExtension(path);
        if (NpyHeader.HasMagic(file.Prefix(6)) || extension.Equals(".npy", StringComparison.OrdinalIgnoreCase))
            return NpyHeader.Parse(path, file);
        if (extension.Equals(".safetensors", StringComparison.OrdinalIgnoreCase))
            return SafetensorsHeader.Parse(path, file, options.TensorName);
        if (options.RawDType is { } dtype && options.RawDim is { } dim)
            return RawLayout(path, file, dtype, dim);
        throw new ActivationFormatException(path,
            "unrecognised file: expected a .npy file (magic \\x93NUMPY), a .safetensors file, or raw little-endian binary with its element type and row width given", FormatRemedy.RawLayout);
    }

    static ShardLayout RawLayout(string path, MappedFile file, ActivationDType dtype, int dim)
    {
        long rowBytes = (long)dim * dtype.ByteSize();
        if (file.Length % rowBytes != 0)
            throw new ActivationFormatException(path,
                $"raw {dtype.Name()} with d = {dim}: file length {file.Length} is not a multiple of the {rowBytes}-byte row ({file.Length % rowBytes} bytes left over: a wrong row width or element type, or a truncated file)", FormatRemedy.RawLayout);
        long rows = file.Length / rowBytes;
        return new ShardLayout(ShardFormat.Raw, dtype, rows, dim, 0, false, [rows, dim], null);
    }

    /// <summary>Converts rows [row, row + count) to fp32 into destination (count * Dim floats).</summary>
    internal void ReadRows(long row, int count, Span<float> destination)
    {
        if (row < 0 || count < 0 || row > Rows - count)
            throw new ArgumentOutOfRangeException(nameof(row), $"rows [{row}, {row + count}) outside [0, {Rows}) of {Path}.");
        int elements = checked(count * Dim);
        var dst = destination[..elements];
        int size = DType.ByteSize();
        if (!FortranOrder)
        {
            Convert(_layout.DataOffset + row * Dim * size, elements, dst);
            return;
        }
        // Column-major: column c of rows [row, row+count) is contiguous; convert it, then scatter.
        var column = System.Buffers.ArrayPool<float>.Shared.Rent(count);
        for (int c = 0; c < Dim; c++)
        {
            Convert(_layout.DataOffset + (c * Rows + row) * size, count, column);
            for (int i = 0; i < count; i++) dst[i * Dim + c] = column[i];
        }
        System.Buffers.ArrayPool<float>.Shared.Return(column);
    }

    /// <summary>Throws naming the file if it is shorter now than when it was opened (see <see cref="FileReads"/>).</summary>
    internal void EnsureIntact() => _file.EnsureIntact();

    /// <summary>Converts elements starting at byte <paramref name="offset"/>: from the mapping, or read into a pooled buffer first.</summary>
    void Convert(long offset, int elements, Span<float> dst)
    {
        if (!_buffered)
        {
            Convert(_file.Pointer + offset, elements, dst);
            return;
        }
        int bytes = checked(elements * DType.ByteSize());
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(bytes);
        try
        {
            _file.Read(offset, buffer.AsSpan(0, bytes));
            fixed (byte* p = buffer) Convert(p, elements, dst);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    void Convert(byte* source, int elements, Span<float> dst)
    {
        switch (DType)
        {
            case ActivationDType.F32: new ReadOnlySpan<float>(source, elements).CopyTo(dst); break;
            case ActivationDType.F16: HalfToSingle.Convert(new ReadOnlySpan<ushort>(source, elements), dst); break;
            case ActivationDType.BF16: BFloat16ToSingle.Convert(new ReadOnlySpan<ushort>(source, elements), dst); break;
            case ActivationDType.F64: DoubleToSingle.Convert(new ReadOnlySpan<double>(source, elements), dst); break;
        }
    }

    /// <summary>Path, format, dtype and shape.</summary>
    public override string ToString() =>
        $"{Path} ({Format}, {DType.Name()}, {TokenShape.Format(_layout.Shape)}{(TensorName is null ? "" : $", tensor '{TensorName}'")}{(FortranOrder ? ", Fortran order" : "")})";

    /// <summary>Unmaps the file.</summary>
    public void Dispose() => _file.Dispose();
}
