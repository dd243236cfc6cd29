using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Options;

/// <summary>
/// Config files for `gba train --config FILE`: one JSON object whose keys are `gba train` option names
/// without the leading dashes ("d_sae": 4096, "method": "ba", "data": ["a.npy"], "untied": true), so the
/// file and the command line share one vocabulary and flags override the file. The config.json a run
/// writes holds its complete effective options under "options" (next to descriptive "trainer"/"data"
/// records), and loading a file with an "options" key reads just that object, so
/// `gba train --config RUN/config.json` repeats the run. Relative paths in a file are relative to the
/// file's directory, not the working directory, so a config can travel with its data.
/// </summary>
public static class RunConfig
{
    /// <summary>Options whose values are paths (resolved against the config file's directory).</summary>
    public static readonly IReadOnlySet<string> PathOptions = new HashSet<string> { "data", "token_text", "ground_truth" };

    /// <summary>Reads FILE and returns its options object with relative paths made absolute.</summary>
    public static JsonObject Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: config file not found.");
        var root = Parse(path);
        var options = root["options"] is { } inner ? inner as JsonObject ?? throw new InvalidDataException($"{path}: \"options\" must be an object.") : root;
        return ResolvePaths((JsonObject)options.DeepClone(), Path.GetDirectoryName(Path.GetFullPath(path))!, path);
    }

    internal static JsonObject Parse(string path)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        return node as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object of options.");
    }

    /// <summary>Makes every relative path under a path option absolute against <paramref name="baseDir"/>.</summary>
    internal static JsonObject ResolvePaths(JsonObject options, string baseDir, string source)
    {
        foreach (var key in options.Select(kv => kv.Key).ToList())
        {
            if (!PathOptions.Contains(key.Replace('-', '_')) || options[key] is not { } v) continue;
            options[key] = v switch
            {
                JsonArray a => new JsonArray(a.Select(x => (JsonNode?)Resolve(x, baseDir, key, source)).ToArray()),
                _ => Resolve(v, baseDir, key, source),
            };
        }
        return options;
    }

    static JsonNode Resolve(JsonNode? v, string baseDir, string key, string source)
    {
        if (v?.GetValueKind() != JsonValueKind.String) throw new InvalidDataException($"{source}: option '{key}' must hold path strings.");
        var s = v.GetValue<string>();
        return JsonValue.Create(Path.IsPathRooted(s) ? s : Path.GetFullPath(Path.Combine(baseDir, s)));
    }

    internal static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes JSON to a temporary file and renames it, so readers never see half a file.</summary>
    public static void WriteAtomically(string path, JsonNode json, bool indented = true) =>
        AtomicFile.WriteAllText(path, (indented ? json.ToResultJson(Indented) : json.ToResultJson()) + "\n");
}
