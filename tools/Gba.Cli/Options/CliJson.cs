using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The CLI's JSON records written from engine types (source-generated, no reflection): the synthetic
/// generator's spec in config.json and synth.json, snake_case keys and enum names, as the trainer's
/// options (<see cref="Training.TrainerOptionsJson"/>).
/// </summary>
public static class CliJson
{
    /// <summary>The spec as one JSON object.</summary>
    public static JsonObject Write(SyntheticSpec spec) => (JsonObject)JsonSerializer.SerializeToNode(spec, CliJsonContext.Default.SyntheticSpec)!;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, IgnoreReadOnlyProperties = false,
    Converters = [typeof(SnakeCaseEnumConverter<FrequencyProfile>)])]
[JsonSerializable(typeof(SyntheticSpec))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

internal sealed class SnakeCaseEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) where T : struct, Enum;
