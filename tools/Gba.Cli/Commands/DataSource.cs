using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Checkpoints;
using GbaEngine.Metrics;
using GbaEngine.Streams;
using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// Where a command's tokens come from: activation files through the loader, or the paper's synthetic
/// model. Either way the trainer gets an <see cref="ITokenStream"/> and a fixed evaluation set.
/// </summary>
public sealed class DataSource : IDisposable
{
    readonly IDisposable? _owner;

    DataSource(ITokenStream train, EvaluationSet eval, string description, JsonNode config, IDisposable? owner)
    {
        Train = train; Eval = eval; Description = description; Config = config; _owner = owner;
    }

    public ITokenStream Train { get; private set; }
    public EvaluationSet Eval { get; }
    public string Description { get; }
    public JsonNode Config { get; }

    public static DataSource Synthetic(OptionReader o, ulong seed)
    {
        var spec = new SyntheticSpec(
            Features: o.Int("--features", TrainCommand.DemoDefaults.Features),
            Dim: o.Int("--dim", TrainCommand.DemoDefaults.Dim),
            Sparsity: o.Int("--sparsity", TrainCommand.DemoDefaults.Sparsity),
            MagnitudeMin: o.Double("--magnitude-min", 0.5),
            MagnitudeMax: o.Double("--magnitude-max", 1.5),
            Noise: o.Double("--noise", 0),
            Profile: o.Enum("--profile", FrequencyProfile.Uniform),
            Exponent: o.Double("--exponent", 1.0));
        spec.Validate();
        var model = new SyntheticModel(spec, seed);
        var train = model.OpenStream(1);
        using var evalStream = model.OpenStream(2);
        var eval = EvaluationSet.FromStream(evalStream, o.Int("--eval-tokens", 16_384), model.Features, model.Frequencies);
        return new DataSource(train, eval, train.Describe(),
            new JsonObject { ["synthetic"] = JsonSerializer.SerializeToNode(spec, TrainCommand.JsonOptions), ["seed"] = seed }, train);
    }

    /// <summary>Opens the files; holds out the last min(--eval-tokens, 10%) rows for evaluation.</summary>
    public static DataSource Files(IReadOnlyList<string> paths, OptionReader o, ulong seed)
    {
        ActivationDType? dtype = null;
        if (o.String("--dtype") is { } dt)
            dtype = ActivationDTypes.TryParse(dt) ?? throw new UsageException($"--dtype '{dt}': expected f32, f16, bf16 or f64");
        if (dtype is not null != o.Has("--dim")) throw new UsageException("raw files need both --dtype and --dim");
        var loader = new LoaderOptions
        {
            RawDType = dtype,
            RawDim = dtype is null ? null : o.Int("--dim", 0),
            TensorName = o.String("--tensor"),
            RowLimit = o.Has("--row-limit") ? o.Long("--row-limit", 0) : null,
            NonFinite = o.Flag("--skip-nonfinite") ? NonFiniteRows.Skip : NonFiniteRows.Error,
        };
        long evalWanted = o.Int("--eval-tokens", 16_384);
        long used;
        using (var probe = ActivationDataset.Open(paths, loader)) used = probe.UsedRows;
        long evalRows = Math.Min(evalWanted, used / 10);
        if (evalRows < 1) throw new InvalidDataException($"{string.Join(", ", paths)}: {used} rows are too few to hold out an evaluation set.");
        var dataset = ActivationDataset.Open(paths, loader with { EvalRows = evalRows });
        try
        {
            var train = dataset.OpenStream(seed);
            using var evalStream = dataset.OpenEvalStream();
            var eval = EvaluationSet.FromStream(evalStream, (int)dataset.EvalRows);
            var config = new JsonObject
            {
                ["files"] = new JsonArray(dataset.Shards.Select(s => (JsonNode)s.Path).ToArray()),
                ["dim"] = dataset.Dim, ["tokens"] = dataset.TokenCount, ["train_rows"] = dataset.TrainRows, ["eval_rows"] = dataset.EvalRows,
                ["shuffle_seed"] = seed,
            };
            return new DataSource(train, eval, dataset.Describe(), config, dataset);
        }
        catch
        {
            dataset.Dispose();
            throw;
        }
    }

    /// <summary>Moves the training stream to where a checkpoint recorded it (synthetic: generator state; files: re-opened at the position).</summary>
    public void RestoreTrainStream(StreamState state)
    {
        if (Train is SyntheticStream s) state.RestoreInto(s);
        else if (_owner is ActivationDataset dataset)
        {
            var old = Train;
            Train = state.Open(dataset);
            old.Dispose();
        }
    }

    public void Dispose()
    {
        Train.Dispose();
        _owner?.Dispose();
    }
}
