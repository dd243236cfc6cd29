using System.IO.Enumeration;
using GbaEngine.Formats;

namespace GbaEngine.Activations;

/// <summary>
/// Turns the user's path arguments into an ordered list of shard files: a file stands for itself, a
/// directory for its .npy and .safetensors files (and every other non-hidden file when raw dtype/dim
/// are given), and a pattern with * or ? in its last component (shards/*.npy) for the files matching
/// it. Expansions are sorted ordinally so the shard order, and hence every shuffle, is the same on
/// every machine. Nothing matching is an error, not an empty dataset.
/// </summary>
internal static class ShardPaths
{
    public static List<string> Expand(IReadOnlyList<string> paths, LoaderOptions options)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (string.IsNullOrWhiteSpace(path))
                throw new ActivationFormatException("(empty path)", "expected a file, directory or glob, found an empty argument.");
            var name = Path.GetFileName(path);
            if (name.IndexOfAny(['*', '?']) >= 0)
                files.AddRange(Glob(path, name));
            else if (Directory.Exists(path))
                files.AddRange(FromDirectory(path, options.RawDType is not null));
            else if (File.Exists(path))
                files.Add(path);
            else
                throw new ActivationFormatException(path, "file not found.");
        }
        return files;
    }

    static IEnumerable<string> Glob(string pattern, string namePattern)
    {
        var dir = Path.GetDirectoryName(pattern);
        if (string.IsNullOrEmpty(dir)) dir = ".";
        if (dir.IndexOfAny(['*', '?']) >= 0)
            throw new ActivationFormatException(pattern, "wildcards are only supported in the last path component (e.g. shards/*.npy).");
        if (!Directory.Exists(dir))
            throw new ActivationFormatException(pattern, $"directory '{dir}' not found.");
        var matches = Directory.EnumerateFiles(dir)
            .Where(f => FileSystemName.MatchesSimpleExpression(namePattern, Path.GetFileName(f), ignoreCase: false))
            .Order(StringComparer.Ordinal).ToList();
        if (matches.Count == 0)
            throw new ActivationFormatException(pattern, "no files match the pattern.");
        return matches;
    }

    static IEnumerable<string> FromDirectory(string dir, bool includeRaw)
    {
        var files = Directory.EnumerateFiles(dir)
            .Where(f =>
            {
                var name = Path.GetFileName(f);
                if (name.StartsWith('.')) return false;
                var ext = Path.GetExtension(name);
                return includeRaw || ext.Equals(".npy", StringComparison.OrdinalIgnoreCase) || ext.Equals(".safetensors", StringComparison.OrdinalIgnoreCase);
            })
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
            throw new ActivationFormatException(dir, includeRaw ? "the directory holds no files." : "the directory holds no .npy or .safetensors files (raw shards need a dtype and dim).");
        return files;
    }
}
