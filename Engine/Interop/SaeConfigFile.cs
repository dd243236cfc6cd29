using System.Text.Json;

namespace GbaEngine.Interop;

/// <summary>
/// A cfg.json read strictly: not JSON, not an object, a missing required field or a field of the
/// wrong type is one <see cref="InvalidDataException"/> naming the file and the field. Unknown keys
/// are ignored (every layout adds its own).
/// </summary>
internal sealed class SaeConfigFile
{
    readonly JsonElement _root;

    SaeConfigFile(string path, JsonElement root)
    {
        Path = path;
        _root = root;
    }

    public string Path { get; }

    public static SaeConfigFile Read(string path, string context)
    {
        if (!File.Exists(path)) throw SaeFormatErrors.Create(path, $"file not found ({context}).");
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw SaeFormatErrors.Create(path, $"cannot read the file: {e.Message}", e);
        }
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw SaeFormatErrors.Create(path, $"expected a JSON object, found {doc.RootElement.ValueKind}.");
            return new SaeConfigFile(path, doc.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw SaeFormatErrors.Create(path, $"not valid JSON: {e.Message}", e);
        }
    }

    public bool Has(string name) => _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) => _root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    /// <summary>A positive integer field (JSON number, integral; 4.0 is accepted as Python writes it).</summary>
    public int PositiveInt(string name)
    {
        if (Get(name) is not { } v) throw SaeFormatErrors.Create(Path, $"field '{name}' is missing: expected a positive integer.");
        return PositiveInt(name, v);
    }

    public int PositiveInt(string name, int fallback) => Get(name) is { } v ? PositiveInt(name, v) : fallback;

    int PositiveInt(string name, JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double x) && x == Math.Floor(x) && x >= 1 && x <= int.MaxValue) return (int)x;
        throw SaeFormatErrors.Create(Path, $"field '{name}' is {v.GetRawText()}: expected a positive integer.");
    }

    /// <summary>A non-negative integer field, or fallback when absent.</summary>
    public int NonNegativeInt(string name, int fallback)
    {
        if (Get(name) is not { } v) return fallback;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double x) && x == Math.Floor(x) && x >= 0 && x <= int.MaxValue) return (int)x;
        throw SaeFormatErrors.Create(Path, $"field '{name}' is {v.GetRawText()}: expected a non-negative integer.");
    }

    public bool Bool(string name, bool fallback)
    {
        if (Get(name) is not { } v) return fallback;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw SaeFormatErrors.Create(Path, $"field '{name}' is {v.GetRawText()}: expected true or false."),
        };
    }

    public string? String(string name)
    {
        if (Get(name) is not { } v) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw SaeFormatErrors.Create(Path, $"field '{name}' is {v.GetRawText()}: expected a string.");
    }
}
