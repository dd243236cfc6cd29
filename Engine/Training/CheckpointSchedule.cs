namespace GbaEngine.Training;

/// <summary>Receives checkpoints from <see cref="Training.SaeTrainer"/>, on the training thread, between steps.</summary>
public interface ICheckpointSink
{
    /// <summary>
    /// Persists <paramref name="checkpoint"/> before returning: it may refer to the trainer's live
    /// buffers, which the next step overwrites.
    /// </summary>
    void Save(TrainingCheckpoint checkpoint);
}

/// <summary>
/// When the trainer checkpoints: every <see cref="EverySteps"/> steps (0: never periodically), after
/// the last step, and after the step during which cancellation was requested.
/// </summary>
public sealed record CheckpointSchedule(ICheckpointSink Sink, long EverySteps = CheckpointSchedule.DefaultEverySteps)
{
    /// <summary>
    /// 1,000 steps: at the paper's batch of 512 that is 512k tokens, a few seconds to a few minutes of
    /// work on a CPU, while writing even a large SAE (3 × its parameters) costs far less than that.
    /// </summary>
    public const long DefaultEverySteps = 1000;

    /// <summary>Extra data the application wants inside every checkpoint (see <see cref="TrainingCheckpoint.Application"/>).</summary>
    public System.Text.Json.Nodes.JsonObject? Application { get; init; }

    /// <summary>Whether a checkpoint is due after step <paramref name="step"/>.</summary>
    public bool IsDue(long step) => EverySteps > 0 && step % EverySteps == 0;
}
