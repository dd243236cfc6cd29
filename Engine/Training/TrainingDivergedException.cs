namespace GbaEngine.Training;

/// <summary>
/// Training stopped because it diverged: a step's loss was NaN, infinite or above
/// <see cref="SaeTrainer.DivergedLoss"/>, or AdamW left a parameter NaN or infinite. Thrown by
/// <see cref="SaeTrainer.TrainStep"/> (and so by <see cref="SaeTrainer.Train"/>) before the step is
/// reported, evaluated or checkpointed, so the checkpoints written so far are the last good state; the
/// trainer itself is not usable afterwards. The usual cure is a lower <see cref="TrainerOptions.LearningRate"/>.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>A divergence at <paramref name="step"/> with the step's <paramref name="loss"/>.</summary>
    public TrainingDivergedException(long step, double loss, bool nonFiniteParameters, double learningRate)
        : base($"Training diverged at step {step} (loss {Describe(loss)}{(nonFiniteParameters ? ", parameters NaN or infinite after the update" : "")}): " +
               string.Create(System.Globalization.CultureInfo.InvariantCulture, $"lower TrainerOptions.LearningRate (now {learningRate:G4})."))
    {
        Step = step;
        Loss = loss;
        NonFiniteParameters = nonFiniteParameters;
        LearningRate = learningRate;
    }

    /// <summary>The learning rate the run diverged with.</summary>
    public double LearningRate { get; }

    /// <summary>The step that diverged (1-based, as <see cref="SaeTrainer.Step"/>).</summary>
    public long Step { get; }
    /// <summary>Its loss per token (may be NaN or infinite).</summary>
    public double Loss { get; }
    /// <summary>Whether the update left a parameter NaN or infinite.</summary>
    public bool NonFiniteParameters { get; }

    /// <summary>The loss as a short text ("NaN", "+inf", "3.2e+17").</summary>
    public static string Describe(double loss) =>
        double.IsNaN(loss) ? "NaN" : double.IsPositiveInfinity(loss) ? "+inf" : double.IsNegativeInfinity(loss) ? "-inf"
            : loss.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
}
