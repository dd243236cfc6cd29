using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using GbaEngine.Formats;

namespace GbaEngine.Formats;

/// <summary>
/// Writes 2-D little-endian float arrays as NumPy .npy (format 1.0: magic, version, u16 header length,
/// a Python dict literal padded with spaces to a 64-byte boundary, then C-order data), streamed row
/// block by row block so arrays larger than memory can be written. The file appears under its name only
/// when complete (temporary sibling + rename).
/// </summary>
public static class NpyWriter
{
    /// <summary>Element type of the written array.</summary>
    public enum Element
    {
        /// <summary>32-bit float ('&lt;f4').</summary>
        F32,
        /// <summary>IEEE half ('&lt;f2').</summary>
        F16,
    }

    /// <summary>The .npy header for shape [rows, cols].</summary>
    public static byte[] Header(long rows, long cols, Element element)
    {
        string descr = element == Element.F32 ? "<f4" : "<f2";
        string dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
        int unpadded = 6 + 2 + 2 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        var header = new byte[total];
        header[0] = 0x93;
        "NUMPY"u8.CopyTo(header.AsSpan(1));
        header[6] = 1;
        header[7] = 0;
        int len = total - 10;
        header[8] = (byte)(len & 0xFF);
        header[9] = (byte)(len >> 8);
        var text = Encoding.ASCII.GetBytes(dict.PadRight(len - 1) + "\n");
        text.CopyTo(header, 10);
        return header;
    }

    /// <summary>
    /// Writes [rows × cols]: <paramref name="fill"/> is called with (first row, row count, destination)
    /// for consecutive blocks and must fill the destination row-major; <paramref name="progress"/> sees rows done.
    /// </summary>
    public static void Write(string path, long rows, int cols, Element element, Action<long, int, Span<float>> fill, Action<long>? progress = null, int blockRows = 4096)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException(".npy output needs a little-endian machine.");
        AtomicFile.Write(path, fs =>
        {
            fs.Write(Header(rows, cols, element));
            var block = new float[(long)blockRows * cols];
            var half = element == Element.F16 ? new Half[block.Length] : null;
            for (long r = 0; r < rows; r += blockRows)
            {
                int n = (int)Math.Min(blockRows, rows - r);
                var span = block.AsSpan(0, n * cols);
                fill(r, n, span);
                if (half is null) fs.Write(MemoryMarshal.AsBytes(span));
                else
                {
                    for (int i = 0; i < span.Length; i++) half[i] = (Half)span[i];
                    fs.Write(MemoryMarshal.AsBytes(half.AsSpan(0, span.Length)));
                }
                progress?.Invoke(r + n);
            }
        });
    }
}
