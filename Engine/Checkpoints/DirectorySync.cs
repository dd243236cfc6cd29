using System.Runtime.InteropServices;

namespace GbaEngine.Checkpoints;

/// <summary>
/// fsync on a directory, which makes the creation or rename of its entries durable. .NET cannot open
/// a directory as a file on Unix, so this goes to libc; on Windows, NTFS journals renames and there
/// is no directory handle to flush, so it does nothing.
/// </summary>
static partial class DirectorySync
{
    public static void Flush(string directory)
    {
        if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD())) return;
        int fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0) throw new IOException($"{directory}: cannot open the directory to flush it (errno {Marshal.GetLastPInvokeError()}).");
        try
        {
            if (Fsync(fd) != 0) throw new IOException($"{directory}: fsync failed (errno {Marshal.GetLastPInvokeError()}).");
        }
        finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
