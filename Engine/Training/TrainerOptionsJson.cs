using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using GbaEngine.Model;

namespace GbaEngine.Training;

/// <summary>
/// The one JSON contract of <see cref="TrainerOptions"/> (source-generated, AOT-safe): snake_case
/// property names, enums as snake_case names. It is the "trainer" record of a run's config.json,
/// the "options" of a checkpoint's state.json, and what resume compatibility compares, so a new
/// option is one property on <see cref="TrainerOptions"/> and appears in all three.
/// Reading takes any subset of the keys (missing ones keep their defaults), so checkpoints written
/// before an option existed still load.
/// </summary>
public static class TrainerOptionsJson
{
    /// <summary>Options that may differ between a checkpoint and the run that resumes it: a longer budget
    /// extends the run; another thread count changes results only up to rounding; <c>steps</c> follows the budget.</summary>
    static readonly HashSet<string> MayChangeOnResume = ["tokens", "threads", "steps"];

    /// <summary>Every setting (and the derived read-only ones) as one JSON object.</summary>
    public static JsonObject Write(TrainerOptions options)
    {
        var json = (JsonObject)JsonSerializer.SerializeToNode(options, TrainerOptionsJsonContext.Default.TrainerOptions)!;
        json["steps"] = options.Steps;   // for readers; the budget itself is "tokens"
        return json;
    }

    /// <summary>Options from a JSON object written by <see cref="Write"/>; unknown keys are an error naming <paramref name="source"/>.</summary>
    public static TrainerOptions Read(JsonObject json, string source)
    {
        // "steps" is written for readers; with "tokens" beside it, it is derived and must not fix the budget.
        // (It is not a JSON property of the record: the generated reader would set a missing one to 0.)
        long? steps = null;
        if (json.ContainsKey("steps"))
        {
            json = (JsonObject)json.DeepClone();
            if (!json.ContainsKey("tokens"))
                steps = json["steps"] is JsonValue v && long.TryParse(v.ToJsonString(), System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long s) ? s
                    : throw new InvalidDataException($"{source}: \"options\": \"steps\" is not a whole number.");
            json.Remove("steps");
        }
        try
        {
            var options = json.Deserialize(TrainerOptionsJsonContext.Default.TrainerOptions)
                ?? throw new InvalidDataException($"{source}: \"options\" is null.");
            return steps is { } n ? options with { Steps = n } : options;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: \"options\": {e.Message}", e);
        }
    }

    /// <summary>"key saved (checkpoint) vs now (now)" for every setting that differs and may not change on resume.</summary>
    public static IReadOnlyList<string> Differences(TrainerOptions saved, TrainerOptions now)
    {
        var a = Write(saved);
        var b = Write(now);
        var differences = new List<string>();
        foreach (var (key, value) in a)
        {
            if (MayChangeOnResume.Contains(key)) continue;
            if (!JsonNode.DeepEquals(value, b[key])) differences.Add($"{key} {value?.ToJsonString()} (checkpoint) vs {b[key]?.ToJsonString()} (now)");
        }
        return differences;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, IgnoreReadOnlyProperties = false,
    Converters = [typeof(SnakeCaseEnum<TrainingMethod>), typeof(SnakeCaseEnum<BiasInitialization>),
        typeof(SnakeCaseEnum<SaeActivation>), typeof(SnakeCaseEnum<InputNormalization>), typeof(SnakeCaseEnum<LearningRateDecay>),
        typeof(SnakeCaseEnum<EncoderStart>)])]
[JsonSerializable(typeof(TrainerOptions))]
internal sealed partial class TrainerOptionsJsonContext : JsonSerializerContext;

/// <summary>An enum as its snake_case name ("jump_relu_l0", "dataset_scale").</summary>
internal sealed class SnakeCaseEnum<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) where T : struct, Enum;
