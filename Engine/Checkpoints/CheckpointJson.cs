using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Training;
using GbaEngine.Streams;

namespace GbaEngine.Checkpoints;

/// <summary>
/// The JSON half of a checkpoint (state.json): written field by field rather than by reflection so
/// the format is explicit, stable across refactors and AOT-safe. Doubles are written in their
/// shortest round-trip form (non-finite ones as the strings "NaN", "Infinity", "-Infinity"), ulongs
/// that must survive JavaScript-style readers (generator states) as hex strings.
/// </summary>
static class CheckpointJson
{
    public const string Format = "gba-training-state";

    public static JsonObject WriteStream(StreamState s)
    {
        var j = new JsonObject { ["kind"] = Name(s.Kind), ["position"] = s.Position, ["description"] = s.Description };
        switch (s.Kind)
        {
            case StreamKind.Synthetic:
                var (a, b, c, d) = s.Rng;
                j["rng"] = new JsonArray(Hex(a), Hex(b), Hex(c), Hex(d));
                break;
            case StreamKind.Activations:
                j["shuffle_seed"] = s.ShuffleSeed;
                var o = s.Options ?? new StreamOptions();
                j["shuffle"] = o.Shuffle;
                j["chunk_rows"] = o.ChunkRows;
                j["shuffle_buffer_rows"] = o.ShuffleBufferRows;
                break;
        }
        return j;
    }

    public static StreamState ReadStream(JsonObject j, Reader r)
    {
        var kind = r.Enum<StreamKind>(j, "kind");
        var s = new StreamState { Kind = kind, Position = r.Long(j, "position"), Description = r.String(j, "description") };
        if (kind == StreamKind.Synthetic)
        {
            var rng = r.Array(j, "rng");
            if (rng.Count != 4) throw r.Error("\"rng\" must hold the 4 words of the xoshiro256** state");
            s = s with { Rng = (r.HexWord(rng[0]), r.HexWord(rng[1]), r.HexWord(rng[2]), r.HexWord(rng[3])) };
        }
        else if (kind == StreamKind.Activations)
        {
            s = s with
            {
                ShuffleSeed = r.ULong(j, "shuffle_seed"),
                Options = new StreamOptions
                {
                    Shuffle = r.Bool(j, "shuffle"),
                    ChunkRows = r.Int(j, "chunk_rows"),
                    ShuffleBufferRows = j["shuffle_buffer_rows"] is null ? null : r.Int(j, "shuffle_buffer_rows"),
                },
            };
        }
        return s;
    }

    public static JsonObject WriteEvaluation(EvaluationReport e)
    {
        var m = e.Metrics;
        var metrics = new JsonObject
        {
            ["tokens"] = m.Tokens,
            ["mse"] = Num(m.Mse),
            ["fvu"] = Num(m.Fvu),
            ["l0"] = Num(m.L0),
            ["fraction_active"] = Num(m.FractionActive),
            ["dead_fraction"] = Num(m.DeadFraction),
            ["frequency_histogram"] = new JsonArray(m.FrequencyHistogram.Select(v => (JsonNode)v).ToArray()),
            ["groups"] = new JsonArray(m.Groups.Select(g => (JsonNode)new JsonObject
            {
                ["group"] = g.Group, ["target_frequency"] = Num(g.TargetFrequency), ["neurons"] = g.Neurons,
                ["mean_frequency"] = Num(g.MeanFrequency), ["median_frequency"] = Num(g.MedianFrequency), ["dead"] = g.Dead,
            }).ToArray()),
            ["frr_0_8"] = m.Frr08 is { } f8 ? Num(f8) : null,
            ["frr_0_9"] = m.Frr09 is { } f9 ? Num(f9) : null,
            ["best_cosines"] = m.BestCosines is { } bc ? new JsonArray(bc.Select(v => Num(v)).ToArray()) : null,
        };
        return new JsonObject { ["step"] = e.Step, ["tokens"] = e.Tokens, ["seconds"] = Num(e.Seconds), ["metrics"] = metrics };
    }

    public static EvaluationReport ReadEvaluation(JsonObject j, Reader r)
    {
        var m = r.Object(j, "metrics");
        var metrics = new EvaluationMetrics
        {
            Tokens = r.Long(m, "tokens"),
            Mse = r.Double(m, "mse"),
            Fvu = r.Double(m, "fvu"),
            L0 = r.Double(m, "l0"),
            FractionActive = r.Double(m, "fraction_active"),
            DeadFraction = r.Double(m, "dead_fraction"),
            FrequencyHistogram = r.Array(m, "frequency_histogram").Select(v => r.IntValue(v, "frequency_histogram")).ToArray(),
            Groups = r.Array(m, "groups").Select(g =>
            {
                var o = r.AsObject(g, "groups");
                return new GroupFrequency(r.Int(o, "group"), r.Double(o, "target_frequency"), r.Int(o, "neurons"),
                    r.Double(o, "mean_frequency"), r.Double(o, "median_frequency"), r.Int(o, "dead"));
            }).ToArray(),
            Frr08 = m["frr_0_8"] is null ? null : r.Double(m, "frr_0_8"),
            Frr09 = m["frr_0_9"] is null ? null : r.Double(m, "frr_0_9"),
            BestCosines = m["best_cosines"] is null ? null : r.Array(m, "best_cosines").Select(v => (float)r.DoubleValue(v, "best_cosines")).ToArray(),
        };
        return new EvaluationReport(r.Long(j, "step"), r.Long(j, "tokens"), r.Double(j, "seconds"), metrics);
    }

    /// <summary>state.json: every scalar of a checkpoint; the arrays live in the tensor file.</summary>
    public static JsonObject WriteState(TrainingCheckpoint c, int parameterCount) => new()
    {
        ["format"] = Format,
        ["version"] = TrainingCheckpoint.FormatVersion,
        ["step"] = c.Step,
        ["tokens"] = c.Tokens,
        ["seconds"] = Num(c.Seconds),
        ["dim"] = c.Dim,
        ["input_scale"] = Num(c.InputScale),
        ["parameter_count"] = parameterCount,
        ["statistics_tokens"] = c.StatisticsTokens,
        ["kernels"] = c.Kernels,
        ["options"] = TrainerOptionsJson.Write(c.Options),
        ["stream"] = WriteStream(c.Stream),
        ["evaluations"] = new JsonArray(c.Evaluations.Select(e => (JsonNode)WriteEvaluation(e)).ToArray()),
        ["baseline_state"] = c.BaselineState?.DeepClone(),
        ["application"] = c.Application?.DeepClone(),
        ["shard"] = c.Shard is { } s ? new JsonObject
        {
            ["rank"] = s.Rank, ["ranks"] = s.Ranks, ["first"] = s.First, ["count"] = s.Count,
        } : null,
    };

    /// <summary>The shard a sharded run's checkpoint holds (null: all neurons), checked against the options' M.</summary>
    public static NeuronShard? ReadShard(JsonObject state, Reader r, int neurons)
    {
        if (state["shard"] is null) return null;
        var j = r.Object(state, "shard");
        int rank = r.Int(j, "rank"), ranks = r.Int(j, "ranks"), first = r.Int(j, "first"), count = r.Int(j, "count");
        if (ranks < 2 || rank < 0 || rank >= ranks || neurons < ranks)
            throw r.Error($"\"shard\" says rank {rank} of {ranks} for M = {neurons}: not a shard of a run over several ranks");
        var expected = NeuronShard.Of(neurons, ranks, rank);
        if (expected.First != first || expected.Count != count)
            throw r.Error($"\"shard\" holds neurons {first}..{first + count - 1}; rank {rank} of {ranks} owns {expected.First}..{expected.First + expected.Count - 1}");
        return expected;
    }

    static string Name<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    static string Hex(ulong v) => v.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>A double as a JSON number, or a string for the values JSON has no number for.</summary>
    static JsonNode Num(double v) => double.IsFinite(v) ? JsonValue.Create(v) : JsonValue.Create(v.ToString(CultureInfo.InvariantCulture));

    /// <summary>Reads required fields, turning every missing or ill-typed one into one error naming the file and the key.</summary>
    public sealed class Reader(string source)
    {
        public InvalidDataException Error(string what) => new($"{source}: {what}.");

        JsonNode Get(JsonObject j, string key) => j[key] ?? throw Error($"missing \"{key}\"");

        public JsonObject Object(JsonObject j, string key) => AsObject(Get(j, key), key);
        public JsonObject AsObject(JsonNode? n, string key) => n as JsonObject ?? throw Error($"\"{key}\" must be an object");
        public JsonArray Array(JsonObject j, string key) => Get(j, key) as JsonArray ?? throw Error($"\"{key}\" must be an array");

        public string String(JsonObject j, string key) => Value(Get(j, key), key, v => v.GetValue<string>());
        public bool Bool(JsonObject j, string key) => Value(Get(j, key), key, v => v.GetValue<bool>());
        public int Int(JsonObject j, string key) => IntValue(Get(j, key), key);
        public long Long(JsonObject j, string key) => Value(Get(j, key), key, v => v.GetValue<long>());
        public ulong ULong(JsonObject j, string key) => Value(Get(j, key), key, v => v.GetValue<ulong>());
        public double Double(JsonObject j, string key) => DoubleValue(Get(j, key), key);

        public int IntValue(JsonNode? n, string key) => Value(n, key, v => v.GetValue<int>());

        public double DoubleValue(JsonNode? n, string key) => Value(n, key, v =>
            v.GetValueKind() == JsonValueKind.String
                ? v.GetValue<string>() switch
                {
                    "NaN" => double.NaN, "Infinity" => double.PositiveInfinity, "-Infinity" => double.NegativeInfinity,
                    var s => throw new FormatException($"'{s}' is not a number"),
                }
                : v.GetValue<double>());

        public ulong HexWord(JsonNode? n) => Value(n, "rng", v => ulong.Parse(v.GetValue<string>(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));

        public T Enum<T>(JsonObject j, string key) where T : struct, Enum
        {
            var name = String(j, key);
            foreach (var v in System.Enum.GetValues<T>())
                if (CheckpointJson.Name(v) == name) return v;
            throw Error($"\"{key}\" is '{name}', expected one of {string.Join(", ", System.Enum.GetValues<T>().Select(CheckpointJson.Name))}");
        }

        T Value<T>(JsonNode? n, string key, Func<JsonValue, T> read)
        {
            if (n is not JsonValue v) throw Error($"\"{key}\" must be a value");
            try { return read(v); }
            catch (Exception e) when (e is FormatException or InvalidOperationException or OverflowException)
            {
                throw Error($"\"{key}\" has the wrong type or range ({v.ToJsonString()})");
            }
        }
    }
}
