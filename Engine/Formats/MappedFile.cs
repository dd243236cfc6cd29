using System.IO.MemoryMappedFiles;

namespace GbaEngine.Formats;

/// <summary>
/// A whole file mapped read-only, exposed as a raw pointer and a length. Mapping (not reading)
/// keeps datasets larger than RAM streamable through the page cache and costs nothing up front.
/// Contract: every access is bounds-checked by the parsers against <see cref="Length"/> before the
/// pointer is touched; the file must not shrink while mapped (the OS would fault on the missing pages).
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    bool _disposed;

    public string Path { get; }
    public long Length { get; }
    public byte* Pointer { get; }

    MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        Pointer = p + view.PointerOffset;
    }

    /// <summary>Maps <paramref name="path"/>; missing, unreadable or empty files become <see cref="ActivationFormatException"/>.</summary>
    public static MappedFile Open(string path)
    {
        FileStream? stream = null;
        MemoryMappedFile? map = null;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
            long length = stream.Length;
            if (length == 0) throw new ActivationFormatException(path, "the file is empty (0 bytes): expected an activation file.");
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null;
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(path, length, map, view);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ActivationFormatException(path, "file not found.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            map?.Dispose();
            throw new ActivationFormatException(path, $"cannot open or map the file: {e.Message}", e);
        }
        finally
        {
            stream?.Dispose();
        }
    }

    /// <summary>The first min(Length, max) bytes, for header parsing.</summary>
    public ReadOnlySpan<byte> Prefix(int max) => new(Pointer, (int)Math.Min(Length, max));

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
