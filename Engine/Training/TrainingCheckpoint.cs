using System.Text.Json.Nodes;
using GbaEngine.Training;
using GbaEngine.Streams;

namespace GbaEngine.Training;

/// <summary>
/// Everything a run needs to continue bit for bit as if it had never stopped (spec/formats.md,
/// "Training state"): the flat parameter buffer, both AdamW moments, the step, the data stream's
/// state (the only random state left after initialisation; the weight initialisation and the GBA
/// group split are pure functions of the seed), the GBA statistics of the partly filled buffer, the
/// input scale, the options it was trained with and the evaluations so far.
///
/// A checkpoint handed to an <see cref="ICheckpointSink"/> by the trainer refers to the trainer's own
/// buffers: persist it before the next step. One read from disk owns its arrays.
/// </summary>
public sealed class TrainingCheckpoint
{
    /// <summary>The version this engine writes and reads.</summary>
    public const int FormatVersion = 2;

    /// <summary>The options the run was trained with.</summary>
    public required TrainerOptions Options { get; init; }
    /// <summary>Row width d of the data.</summary>
    public required int Dim { get; init; }
    /// <summary>Steps completed.</summary>
    public required long Step { get; init; }
    /// <summary>Tokens trained on.</summary>
    public required long Tokens { get; init; }
    /// <summary>Training wall-clock seconds so far (initialisation included), so resumed runs report totals.</summary>
    public required double Seconds { get; init; }
    /// <summary>The dataset-level input scale s.</summary>
    public required float InputScale { get; init; }

    /// <summary>The flat <see cref="Model.SaeParameters"/> buffer, padding included.</summary>
    public required ReadOnlyMemory<float> Parameters { get; init; }
    /// <summary>AdamW first moment, same layout as <see cref="Parameters"/>.</summary>
    public required ReadOnlyMemory<float> Moment1 { get; init; }
    /// <summary>AdamW second moment, same layout as <see cref="Parameters"/>.</summary>
    public required ReadOnlyMemory<float> Moment2 { get; init; }

    /// <summary>Firing counts of the current GBA buffer (<see cref="Model.FiringStatistics"/>).</summary>
    public required ReadOnlyMemory<long> FireCount { get; init; }
    /// <summary>Largest pre-activation per neuron in the current buffer.</summary>
    public required ReadOnlyMemory<float> MaxY { get; init; }
    /// <summary>Tokens in the current buffer.</summary>
    public required long StatisticsTokens { get; init; }
    /// <summary>GBA group of every neuron (empty for TopK); derived from the seed, stored to verify it.</summary>
    public required ReadOnlyMemory<int> GroupOf { get; init; }

    /// <summary>Where the training data stream stood.</summary>
    public required StreamState Stream { get; init; }
    /// <summary>Evaluations so far, oldest first (the final one too once the run has finished).</summary>
    public required IReadOnlyList<EvaluationReport> Evaluations { get; init; }
    /// <summary>The kernel set the run used (<see cref="Model.SparseAutoencoder.Kernels"/>); results are bitwise reproducible only on the same set.</summary>
    public required string Kernels { get; init; }
    /// <summary>Tokens since each latent last fired (<see cref="Training.DeadLatents"/>; empty when the method keeps no such counters).</summary>
    public ReadOnlyMemory<long> TokensSinceFired { get; init; }
    /// <summary>A baseline method's state between steps beyond the parameters (BatchTopK: its running threshold), or null.</summary>
    public JsonObject? BaselineState { get; init; }
    /// <summary>Free-form data of the application that trains (the CLI keeps its arguments and data settings here).</summary>
    public JsonObject? Application { get; init; }
    /// <summary>
    /// In a run sharded over several ranks, the neurons this rank's checkpoint holds: the parameters, moments and
    /// per-neuron tensors are that shard's (b_pre and the group assignment are whole). Null for a single process.
    /// </summary>
    public NeuronShard? Shard { get; init; }

    /// <summary>
    /// Throws a <see cref="InvalidDataException"/> naming <paramref name="source"/> and every differing
    /// setting unless a run with <paramref name="options"/> on data of width <paramref name="dim"/> can
    /// continue this checkpoint. The token budget and the thread count may differ (a longer budget
    /// extends the run; other thread counts give results equal only up to rounding).
    /// </summary>
    public void EnsureCompatible(TrainerOptions options, int dim, string source)
    {
        var differences = new List<string>();
        if (dim != Dim) differences.Add($"dim {Dim} (checkpoint) vs {dim} (now)");
        differences.AddRange(TrainerOptionsJson.Differences(Options, options));
        if (differences.Count > 0)
            throw new InvalidDataException($"{source}: the checkpoint does not match this run: {string.Join("; ", differences)}.");
        if (options.Steps < Step)
            throw new InvalidDataException($"{source}: the checkpoint is at step {Step}, past this run's budget of {options.Steps} steps.");
    }

    /// <summary>
    /// The evaluations a run with <paramref name="options"/> has made by this checkpoint's step: all of
    /// them, except that the final evaluation of a finished run is dropped when the budget is extended
    /// past it and its step is not an evaluation step of the longer run.
    /// </summary>
    public IReadOnlyList<EvaluationReport> EvaluationsFor(TrainerOptions options) =>
        Evaluations.Where(e => e.Step < Step || options.IsEvaluationStep(e.Step)).ToArray();
}
