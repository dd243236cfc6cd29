using System.Text.Json.Nodes;

namespace GbaEngine.Cli.Runs;

/// <summary>Another live process writes the run directory: refused before anything in it is touched.</summary>
public sealed class RunLockedException(string message) : IOException(message);

/// <summary>
/// The one writer of a run directory. An OS lock (flock, through FileShare.None) on DIR/.gba.lock, held
/// for the run's life: the kernel drops it when the holder exits or is killed, so a crashed run never
/// blocks the next one, and no marker file can be left behind "locked". The holder's PID, host and start
/// time go into DIR/.gba.lock.owner (a plain file, readable while the lock is held) for the refusal.
/// </summary>
public sealed class RunLock : IDisposable
{
    /// <summary>The lock file's name inside a run directory.</summary>
    public const string FileName = ".gba.lock";
    const string OwnerFile = FileName + ".owner";

    readonly FileStream _lock;

    RunLock(FileStream stream) => _lock = stream;

    /// <summary>
    /// Locks <paramref name="directory"/> (created if missing) for this process, or throws
    /// <see cref="RunLockedException"/> naming the holder; <paramref name="flag"/> is the option that named the directory.
    /// </summary>
    public static RunLock Acquire(string directory, string flag)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{flag} {directory}: cannot create the run directory ({e.Message})", e);
        }
        string path = Path.Combine(directory, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException))
        {
            throw new RunLockedException($"{flag} {directory} is in use by another gba run ({Holder(directory)}): wait for it, or choose another {flag}");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{flag} {directory}: cannot write the run directory ({e.Message})", e);
        }
        try
        {
            var owner = new JsonObject
            {
                ["pid"] = Environment.ProcessId, ["host"] = Environment.MachineName,
                ["started"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
                ["command"] = string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
            };
            Options.RunConfig.WriteAtomically(Path.Combine(directory, OwnerFile), owner);
            return new RunLock(stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>"PID 123 on host h since …", from the owner file (or why it cannot be said).</summary>
    static string Holder(string directory)
    {
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(Path.Combine(directory, OwnerFile)));
            return $"PID {o?["pid"]} on host {o?["host"]} since {o?["started"]}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return "holder unknown: its owner file is missing or still being written";
        }
    }

    /// <summary>Releases the lock (the owner file stays: it records the last writer).</summary>
    public void Dispose() => _lock.Dispose();
}
