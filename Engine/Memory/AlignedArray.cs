using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace GbaEngine.Memory;

/// <summary>
/// A pinned managed float array whose first element sits on a 64-byte boundary, so that kernels
/// can assume cache-line-aligned rows when leading dimensions are padded to 16 floats.
/// Managed (not NativeMemory) so nothing needs disposing and the GC owns the lifetime.
/// </summary>
internal sealed class AlignedArray
{
    public const int Alignment = 64;
    const int FloatsPerLine = Alignment / sizeof(float);

    readonly float[] _storage;
    readonly int _offset;

    public AlignedArray(long length)
    {
        if (length < 0 || length > Array.MaxLength - FloatsPerLine)
            throw new ArgumentOutOfRangeException(nameof(length), length, "AlignedArray length out of range.");
        _storage = GC.AllocateArray<float>((int)length + FloatsPerLine, pinned: true);
        unsafe
        {
            var address = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_storage));
            var misalign = (int)(address % Alignment);
            _offset = misalign == 0 ? 0 : (Alignment - misalign) / sizeof(float);
        }
        Length = (int)length;
    }

    public int Length { get; }

    public Span<float> Span => _storage.AsSpan(_offset, Length);

    public Memory<float> Memory => _storage.AsMemory(_offset, Length);

    public unsafe float* Pointer => (float*)Unsafe.AsPointer(ref _storage[_offset]);

    public ref float this[int i] => ref _storage[_offset + i];

    public void Clear() => Span.Clear();

    /// <summary>Rounds a row length up to a whole number of 64-byte lines (16 floats).</summary>
    public static int PadToLine(int floats) => (floats + FloatsPerLine - 1) / FloatsPerLine * FloatsPerLine;
}
