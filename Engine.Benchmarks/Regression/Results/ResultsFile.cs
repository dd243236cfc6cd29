using System.Text.Json;

namespace GbaEngine.Benchmarks.Regression.Results;

/// <summary>Reads and writes <see cref="BenchmarkResults"/> as JSON (snake_case; written atomically).</summary>
internal static class ResultsFile
{
    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    /// <summary>Writes to a temporary file beside <paramref name="path"/>, then renames it over: never a half-written result.</summary>
    public static void Write(string path, BenchmarkResults results)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var tmp = $"{full}.tmp-{Environment.ProcessId}";
        try
        {
            using (var stream = File.Create(tmp)) JsonSerializer.Serialize(stream, results, Options);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Reads a results file; one <see cref="InvalidDataException"/> naming the file and what is wrong otherwise.</summary>
    public static BenchmarkResults Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such results file.", path);
        BenchmarkResults? r;
        try
        {
            using var stream = File.OpenRead(path);
            r = JsonSerializer.Deserialize<BenchmarkResults>(stream, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a benchmark results file ({e.Message}).", e);
        }
        if (r is null) throw new InvalidDataException($"{path}: empty results file.");
        if (r.Format != BenchmarkResults.CurrentFormat)
            throw new InvalidDataException($"{path}: format '{r.Format}', this tool reads '{BenchmarkResults.CurrentFormat}'.");
        foreach (var e in r.Entries)
        {
            if (e.Samples.Count == 0) throw new InvalidDataException($"{path}: entry '{e.Name}' has no samples.");
            if (e.Direction is not ("higher" or "lower")) throw new InvalidDataException($"{path}: entry '{e.Name}' has direction '{e.Direction}' (expected higher or lower).");
            if (e.Threads < 1) throw new InvalidDataException($"{path}: entry '{e.Name}' has {e.Threads} threads.");
            foreach (var s in e.Samples)
                if (!(s.WallSeconds > 0) || !(s.CpuSeconds >= 0) || s.Ops < 1)
                    throw new InvalidDataException($"{path}: entry '{e.Name}' has a sample of {s.Ops} ops, {s.WallSeconds} wall s, {s.CpuSeconds} CPU s.");
        }
        var duplicate = r.Entries.GroupBy(e => e.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidDataException($"{path}: entry '{duplicate.Key}' appears {duplicate.Count()} times.");
        return r;
    }
}
