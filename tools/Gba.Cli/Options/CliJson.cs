using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The CLI's JSON: records written from engine types (source-generated, no reflection: the synthetic
/// generator's spec in config.json and synth.json, snake_case keys and enum names, as the trainer's
/// options, <see cref="Training.TrainerOptionsJson"/>), and the one policy for numbers JSON cannot hold.
/// </summary>
public static class CliJson
{
    /// <summary>The spec as one JSON object.</summary>
    public static JsonObject Write(SyntheticSpec spec) => (JsonObject)JsonSerializer.SerializeToNode(spec, CliJsonContext.Default.SyntheticSpec)!;

    /// <summary>
    /// The text of every JSON file and --json object the CLI writes (summary.json, config.json, metrics.jsonl,
    /// loss.jsonl, bias.jsonl, recovery and feature tables, stdout): a NaN or infinite number is written as
    /// <c>null</c>, "no value", which every JSON reader accepts, where System.Text.Json would throw mid-write
    /// and a bare NaN token would break Python's and jq's readers alike. A metric that has no value is then
    /// null, never a number. (Checkpoints' state.json is not a result: it keeps a non-finite value as its
    /// round-trip string, see Checkpoints.CheckpointJson, so a resumed run is bitwise the same.)
    /// </summary>
    public static string ToResultJson(this JsonNode node, JsonSerializerOptions? options = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = options?.WriteIndented ?? false, Encoder = options?.Encoder }))
            Write(w, node, options);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    static void Write(Utf8JsonWriter w, JsonNode? node, JsonSerializerOptions? options)
    {
        switch (node)
        {
            case null:
                w.WriteNullValue();
                break;
            case JsonObject o:
                w.WriteStartObject();
                foreach (var (key, value) in o)
                {
                    w.WritePropertyName(key);
                    Write(w, value, options);
                }
                w.WriteEndObject();
                break;
            case JsonArray a:
                w.WriteStartArray();
                foreach (var item in a) Write(w, item, options);
                w.WriteEndArray();
                break;
            case JsonValue v when v.TryGetValue(out double d) && !double.IsFinite(d):
            case JsonValue f when f.TryGetValue(out float x) && !float.IsFinite(x):
                w.WriteNullValue();
                break;
            default:
                node.WriteTo(w, options);
                break;
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, IgnoreReadOnlyProperties = false,
    Converters = [typeof(SnakeCaseEnumConverter<FrequencyProfile>)])]
[JsonSerializable(typeof(SyntheticSpec))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal sealed class SnakeCaseEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) where T : struct, Enum;
