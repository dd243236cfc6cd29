using System.Globalization;
using GbaEngine.Streams;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// One whole training step (<see cref="SaeTrainer.TrainStep"/>) from a fixed warm state: every sample
/// restores the state and rewinds the replayed data first, so every sample runs the same steps.
/// </summary>
internal sealed class TrainingStepEntry : RegressionEntry
{
    readonly WarmState _state;
    readonly SaeTrainer _trainer;
    readonly MemoryTokenStream _data;
    readonly Dictionary<string, string> _parameters;

    public TrainingStepEntry(string name, WarmState state, float[] replay, int threads)
    {
        Name = name;
        _state = state;
        Threads = threads;
        var options = state.Checkpoint.Options with { Threads = threads, Tokens = (long)SuiteShape.Batch * 1_000_000 };
        _trainer = new SaeTrainer(options, SuiteShape.Dim);
        _data = new MemoryTokenStream(replay, SuiteShape.Dim);
        var inv = CultureInfo.InvariantCulture;
        _parameters = new()
        {
            ["method"] = options.Method.ToString().ToLowerInvariant(),
            ["shape"] = $"batch {SuiteShape.Batch} x d {SuiteShape.Dim} x M {SuiteShape.Neurons}",
            ["warm_steps"] = state.Steps.ToString(inv),
            ["bias_init"] = options.BiasInit.ToString().ToLowerInvariant(),
            ["l0_start"] = state.L0.ToString("F1", inv),
            ["l0_start_percent_of_m"] = (100 * state.L0 / SuiteShape.Neurons).ToString("F2", inv),
        };
        if (options.Method is TrainingMethod.TopK or TrainingMethod.BatchTopK) _parameters["k"] = options.K.ToString(inv);
    }

    public override string Name { get; }
    public override string WorkUnit => "tokens";
    public override double WorkPerOp => SuiteShape.Batch;
    public override int Threads { get; }
    public override IReadOnlyDictionary<string, string> Parameters => _parameters;

    public override void Reset()
    {
        _trainer.Restore(_state.Checkpoint);
        _data.Position = 0;
    }

    public override void Run() => _trainer.TrainStep(_data);

    public override void Dispose() => _trainer.Dispose();
}
