using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Checkpoints;
using GbaEngine.Evaluation;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Formats;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// Where a command's tokens come from: activation files through the loader, or the paper's synthetic
/// model. Either way the trainer gets an <see cref="ITokenStream"/> and a fixed evaluation set.
/// </summary>
public sealed class DataSource : IDisposable
{
    readonly IDisposable? _owner;

    DataSource(ITokenStream train, EvaluationSet eval, string description, JsonNode config, JsonObject options, IDisposable? owner)
    {
        Train = train; Eval = eval; Description = description; Config = config; Options = options; _owner = owner;
    }

    public ITokenStream Train { get; private set; }
    public EvaluationSet Eval { get; }
    public string Description { get; }
    public JsonNode Config { get; }
    /// <summary>The data options of the effective config (gba train option names), defaults resolved.</summary>
    public JsonObject Options { get; }
    /// <summary>For files: the dataset row of the first evaluation token and the dataset's row count (token text alignment).</summary>
    public (long FirstRow, long TokenCount)? EvalRows { get; private init; }

    /// <param name="seed">The run's seed; the generator uses --data-seed when given, so runs with different
    /// training seeds can share one synthetic problem (consistency across seeds).</param>
    public static DataSource Synthetic(OptionReader o, ulong seed)
    {
        seed = o.ULong("--data-seed", seed);
        var spec = SyntheticOptions.ReadSpec(o);
        spec.Validate();
        var model = new SyntheticModel(spec, seed);
        var train = model.OpenStream(1);
        using var evalStream = model.OpenStream(2);
        int evalTokens = o.Int("--eval-tokens", 16_384);
        // A --ground-truth file replaces the generator's own features (their frequencies no longer apply).
        var truth = GroundTruthFile(o, spec.Dim);
        var eval = EvaluationSet.FromStream(evalStream, evalTokens, truth ?? model.Features, truth is null ? model.Frequencies : null);
        var options = new JsonObject
        {
            ["features"] = spec.Features, ["dim"] = spec.Dim, ["sparsity"] = spec.Sparsity, ["profile"] = spec.Profile.ToString().ToLowerInvariant(),
            ["exponent"] = spec.Exponent, ["noise"] = spec.Noise, ["magnitude_min"] = spec.MagnitudeMin, ["magnitude_max"] = spec.MagnitudeMax,
            ["eval_tokens"] = evalTokens, ["data_seed"] = seed,
        };
        if (spec.MixSparsity > 0) { options["mix_sparsity"] = spec.MixSparsity; options["mix_fraction"] = spec.MixFraction; }
        if (o.String("--ground-truth") is { } g) options["ground_truth"] = Path.GetFullPath(g);
        var config = new JsonObject { ["synthetic"] = CliJson.Write(spec), ["seed"] = seed };
        if (o.String("--ground-truth") is { } gt) config["ground_truth"] = gt;
        return new DataSource(train, eval, train.Describe(), config, options, train);
    }

    /// <summary>Opens the files; holds out the last min(--eval-tokens, 10%) rows for evaluation.</summary>
    /// <param name="seed">The run's seed; the shuffle uses --data-seed when given (runs with different training
    /// seeds can then share one loader pass, see `gba sweep run`).</param>
    public static DataSource Files(IReadOnlyList<string> paths, OptionReader o, ulong seed)
    {
        bool dataSeed = o.Has("--data-seed");
        seed = o.ULong("--data-seed", seed);
        var loader = SharedOptions.ReadLoader(o);
        var dtype = loader.RawDType;
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
            var eval = EvaluationSet.FromStream(evalStream, (int)dataset.EvalRows, GroundTruthFile(o, dataset.Dim));
            var config = new JsonObject
            {
                ["files"] = new JsonArray(dataset.Shards.Select(s => (JsonNode)s.Path).ToArray()),
                ["dim"] = dataset.Dim, ["tokens"] = dataset.TokenCount, ["train_rows"] = dataset.TrainRows, ["eval_rows"] = dataset.EvalRows,
                ["shuffle_seed"] = seed,
            };
            var options = new JsonObject
            {
                ["data"] = new JsonArray(dataset.Shards.Select(s => (JsonNode)Path.GetFullPath(s.Path)).ToArray()),
                ["eval_tokens"] = evalWanted,
            };
            if (dataSeed) options["data_seed"] = seed;
            if (dtype is { } raw) { options["dtype"] = raw.Name(); options["dim"] = dataset.Dim; }
            if (loader.TensorName is { } tn) options["tensor"] = tn;
            if (loader.RowLimit is { } rl) options["row_limit"] = rl;
            if (loader.NonFinite == NonFiniteRows.Skip) options["skip_nonfinite"] = true;
            if (o.String("--ground-truth") is { } g) options["ground_truth"] = Path.GetFullPath(g);
            return new DataSource(train, eval, dataset.Describe(), config, options, dataset)
            {
                EvalRows = (dataset.TrainRows, dataset.TokenCount),
            };
        }
        catch
        {
            dataset.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The same data with another training stream (e.g. one consumer of a shared loader pass); disposing
    /// the view disposes only that stream, the owner keeps the files and the evaluation set.
    /// </summary>
    public DataSource WithTrain(ITokenStream train) => new(train, Eval, Description, Config.DeepClone(), (JsonObject)Options.DeepClone(), null) { EvalRows = EvalRows };

    /// <summary>Moves the training stream to where a checkpoint recorded it (synthetic: generator state; files: re-opened at the position).</summary>
    public void RestoreTrainStream(StreamState state)
    {
        if (Train is SyntheticStream s) s.Restore(state);
        else if (_owner is ActivationDataset dataset)
        {
            var old = Train;
            Train = dataset.OpenStream(state);
            old.Dispose();
        }
    }

    /// <summary>The --ground-truth matrix V [n × d], validated against the data's d; null without the option.</summary>
    static float[]? GroundTruthFile(OptionReader o, int dim) =>
        o.String("--ground-truth") is { } path ? GroundTruth.Load(path, dim) : null;

    public void Dispose()
    {
        Train.Dispose();
        _owner?.Dispose();
    }
}
