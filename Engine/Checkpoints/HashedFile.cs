using System.Security.Cryptography;

namespace GbaEngine.Checkpoints;

/// <summary>
/// A file written once, hashed (SHA-256) on the way out and flushed to the disk before it counts,
/// so the manifest can list its size and digest without reading it back.
/// </summary>
sealed class HashedFileWriter : IDisposable
{
    readonly FileStream _fs;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public HashedFileWriter(string path)
    {
        Path = path;
        _fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
    }

    public string Path { get; }
    public long Length { get; private set; }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        _fs.Write(bytes);
        _hash.AppendData(bytes);
        Length += bytes.Length;
    }

    /// <summary>Flushes through the OS cache to the device and returns the file's entry for the manifest.</summary>
    public ManifestEntry Complete()
    {
        _fs.Flush(flushToDisk: true);
        return new ManifestEntry(System.IO.Path.GetFileName(Path), Length, Convert.ToHexStringLower(_hash.GetHashAndReset()));
    }

    public void Dispose()
    {
        _fs.Dispose();
        _hash.Dispose();
    }
}

/// <summary>
/// Reads a file listed in a manifest: the size is checked before anything is parsed, the digest
/// over every byte read once the caller has consumed the whole file.
/// </summary>
sealed class HashedFileReader : IDisposable
{
    readonly FileStream _fs;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    readonly ManifestEntry _entry;

    public HashedFileReader(string directory, ManifestEntry entry)
    {
        _entry = entry;
        Path = System.IO.Path.Combine(directory, entry.Name);
        if (!File.Exists(Path)) throw new InvalidDataException($"{Path}: missing (the manifest lists it).");
        _fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        long length = _fs.Length;
        if (length != entry.Bytes)
        {
            _fs.Dispose();
            throw new InvalidDataException($"{Path}: {length} bytes, the manifest says {entry.Bytes} (truncated or overwritten).");
        }
    }

    public string Path { get; }
    public long Remaining => _entry.Bytes - _fs.Position;

    public void ReadExactly(Span<byte> destination)
    {
        if (destination.Length > Remaining) throw new InvalidDataException($"{Path}: needs {destination.Length} more bytes at offset {_fs.Position}, the file ends first.");
        _fs.ReadExactly(destination);
        _hash.AppendData(destination);
    }

    /// <summary>Throws unless the whole file was read and its digest is the manifest's.</summary>
    public void VerifyDigest()
    {
        if (Remaining != 0) throw new InvalidDataException($"{Path}: {Remaining} unexpected trailing bytes.");
        var digest = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (digest != _entry.Sha256)
            throw new InvalidDataException($"{Path}: SHA-256 {digest} differs from the manifest's {_entry.Sha256} (the file is damaged).");
    }

    public void Dispose()
    {
        _fs.Dispose();
        _hash.Dispose();
    }
}

/// <summary>One file of a checkpoint directory as the manifest lists it.</summary>
sealed record ManifestEntry(string Name, long Bytes, string Sha256);
