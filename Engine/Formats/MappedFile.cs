using System.IO.MemoryMappedFiles;
using Microsoft.Win32.SafeHandles;

namespace GbaEngine.Formats;

/// <summary>
/// A whole file mapped read-only, exposed as a raw pointer and a length. Mapping (not reading)
/// keeps datasets larger than RAM streamable through the page cache and costs nothing up front.
/// Contract: every access is bounds-checked by the parsers against <see cref="Length"/> before the
/// pointer is touched. The file must not shrink while mapped: the OS then faults on the missing pages
/// (SIGBUS on Linux), which .NET turns into a fatal AccessViolationException that no handler may catch.
/// Hence <see cref="EnsureIntact"/> (a size check callers run at shard boundaries and checkpoints) and
/// <see cref="Read"/>, which goes through the file handle instead and turns a short read into an error.
/// </summary>
internal sealed unsafe class MappedFile : IDisposable
{
    readonly FileStream _stream;
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;
    bool _disposed;

    public string Path { get; }
    public long Length { get; }
    public byte* Pointer { get; }

    MappedFile(string path, long length, FileStream stream, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _stream = stream;
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
            // The stream stays open: its handle measures the mapped file itself (not whatever the path names
            // now) and serves buffered reads.
            map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            var file = new MappedFile(path, length, stream, map, view);
            stream = null;
            return file;
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
            if (stream != null)
            {
                map?.Dispose();
                stream.Dispose();
            }
        }
    }

    /// <summary>The first min(Length, max) bytes, for header parsing.</summary>
    public ReadOnlySpan<byte> Prefix(int max) => new(Pointer, (int)Math.Min(Length, max));

    SafeFileHandle Handle => _stream.SafeFileHandle;

    /// <summary>
    /// Throws an <see cref="ActivationFormatException"/> naming the file if it is now shorter than when it
    /// was opened (truncated or overwritten in place by another program): reading its mapping past the new
    /// end would kill the process. One fstat of the open file.
    /// </summary>
    public void EnsureIntact()
    {
        long now;
        try { now = RandomAccess.GetLength(Handle); }
        catch (IOException e) { throw new ActivationFormatException(Path, $"cannot check the file's size while reading it: {e.Message}", e); }
        if (now < Length)
            throw new ActivationFormatException(Path,
                $"the file shrank from {Length} to {now} bytes while in use (truncated or overwritten by another program): its rows can no longer be read.");
    }

    /// <summary>
    /// Reads bytes [offset, offset + destination.Length) through the file handle (no mapping): a file
    /// truncated while in use gives a short read, reported as an <see cref="ActivationFormatException"/>.
    /// </summary>
    public void Read(long offset, Span<byte> destination)
    {
        int done = 0;
        while (done < destination.Length)
        {
            int n;
            try { n = RandomAccess.Read(Handle, destination[done..], offset + done); }
            catch (IOException e) { throw new ActivationFormatException(Path, $"reading bytes at offset {offset + done}: {e.Message}", e); }
            if (n == 0)
                throw new ActivationFormatException(Path,
                    $"the file ends at byte {offset + done}, inside the {Length} bytes it had when opened (truncated or overwritten by another program while in use).");
            done += n;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
        _stream.Dispose();
    }
}
