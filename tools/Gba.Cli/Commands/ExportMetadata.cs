using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Interop;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// What `gba train` records about the activations in the export's metadata: --model-name, --hook-name,
/// --context-size, --dataset-path and --prepend-bos, each filled, when not given, from the harvest.json
/// that `gba harvest` writes beside its shards (format "gba-harvest/1": model.path, hooks[].name,
/// tokens.context, tokens.source and, when recorded, tokens.prepend_bos). Options on the command line win.
/// </summary>
public static class ExportMetadata
{
    /// <summary>The manifest `gba harvest` writes into its output directory.</summary>
    public const string HarvestManifest = "harvest.json";

    /// <summary>The export's metadata for a run on <paramref name="dataPaths"/> (none: synthetic data).</summary>
    public static SaeLensMetadata Read(OptionReader o, IReadOnlyList<string> dataPaths, string dataDescription)
    {
        var harvest = FindHarvest(dataPaths) is { } path ? FromHarvest(path, o.String("--tensor")) : new SaeLensMetadata();
        return new SaeLensMetadata
        {
            ModelName = o.String("--model-name") ?? harvest.ModelName,
            HookName = o.String("--hook-name") ?? harvest.HookName,
            ContextSize = o.Has("--context-size") ? Positive(o, "--context-size") : harvest.ContextSize,
            DatasetPath = o.String("--dataset-path") ?? harvest.DatasetPath,
            PrependBos = o.String("--prepend-bos") is { } bos ? Bool("--prepend-bos", bos) : harvest.PrependBos,
            Dataset = dataDescription,
        };
    }

    /// <summary>Warnings for a run on activation files whose export SAEBench or HookedSAETransformer could not place.</summary>
    public static IEnumerable<string> Warnings(SaeLensMetadata m)
    {
        if (m.HookName is null || m.ModelName is null)
            yield return $"no {(m.HookName is null ? "--hook-name" : "")}{(m.HookName is null && m.ModelName is null ? " or " : "")}{(m.ModelName is null ? "--model-name" : "")}: " +
                         "SAEBench refuses the exported SAE (it cannot tell the layer or load the model) and HookedSAETransformer cannot attach it; " +
                         "give them, e.g. --model-name gpt2 --hook-name blocks.6.hook_resid_post";
        else if (!m.HookName.Any(char.IsAsciiDigit))
            yield return $"--hook-name '{m.HookName}' holds no layer number: SAEBench takes the layer from the first number in the hook name";
    }

    /// <summary>The values a run directory's config.json records for these options (only those given).</summary>
    public static void Record(OptionReader o, JsonObject effective)
    {
        foreach (var name in new[] { "--model-name", "--hook-name", "--context-size", "--dataset-path", "--prepend-bos", "--format" })
            if (o.String(name) is { } v) effective[name[2..].Replace('-', '_')] = v;
    }

    /// <summary>harvest.json in a data directory, or beside a data file; the first found in --data order.</summary>
    static string? FindHarvest(IReadOnlyList<string> dataPaths)
    {
        foreach (var p in dataPaths)
        {
            string? dir = Directory.Exists(p) ? p : Path.GetDirectoryName(Path.GetFullPath(p));
            if (dir != null && File.Exists(Path.Combine(dir, HarvestManifest))) return Path.Combine(dir, HarvestManifest);
        }
        return null;
    }

    static SaeLensMetadata FromHarvest(string path, string? tensor)
    {
        try { return ParseHarvest(path, tensor); }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{path}: a field has the wrong type ({e.Message})", e);
        }
    }

    static SaeLensMetadata ParseHarvest(string path, string? tensor)
    {
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object."); }
        catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e); }
        if (root["format"]?.GetValue<string>() is not { } format || !format.StartsWith("gba-harvest/", StringComparison.Ordinal))
            throw new InvalidDataException($"{path}: not a gba harvest manifest (expected \"format\": \"gba-harvest/1\").");
        var hooks = root["hooks"] is JsonArray a ? a.Select(h => h?["name"]?.GetValue<string>()).OfType<string>().ToList() : [];
        // Several hooks share the shards: the one trained on is the tensor --tensor picks.
        string? hook = hooks.Count == 1 ? hooks[0] : tensor is not null && hooks.Contains(tensor) ? tensor : null;
        var tokens = root["tokens"] as JsonObject;
        return new SaeLensMetadata
        {
            ModelName = root["model"]?["path"]?.GetValue<string>() is { } model ? Path.GetFileNameWithoutExtension(model) : null,
            HookName = hook,
            ContextSize = tokens?["context"] is JsonValue c && c.TryGetValue<int>(out int ctx) && ctx > 0 ? ctx : null,
            DatasetPath = tokens?["source"]?.GetValue<string>(),
            PrependBos = tokens?["prepend_bos"] is JsonValue b && b.TryGetValue<bool>(out bool bos) ? bos : null,
        };
    }

    static int Positive(OptionReader o, string name)
    {
        int v = o.Int(name, 0);
        return v >= 1 ? v : throw new UsageException($"option {name}: expected a positive integer (got {v})");
    }

    static bool Bool(string name, string value) => value.ToLowerInvariant() switch
    {
        "true" or "1" or "yes" => true,
        "false" or "0" or "no" => false,
        _ => throw new UsageException($"option {name}: cannot read '{value}' (expected true or false)"),
    };
}
