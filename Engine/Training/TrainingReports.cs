using GbaEngine.Evaluation;

namespace GbaEngine.Training;

/// <summary>One training step as seen by a progress display or a metrics log.</summary>
public readonly record struct StepReport(long Step, long TotalSteps, long Tokens, long TotalTokens, double Loss, double L0, double Seconds)
{
    /// <summary>Tokens per second so far.</summary>
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}

/// <summary>An evaluation during or at the end of training.</summary>
public sealed record EvaluationReport(long Step, long Tokens, double Seconds, EvaluationMetrics Metrics);

/// <summary>Receives progress from <see cref="SaeTrainer"/>; all methods are called on the training thread.</summary>
public interface ITrainingObserver
{
    /// <summary>After every step.</summary>
    void OnStep(in StepReport report) { }
    /// <summary>After every evaluation (and the final one).</summary>
    void OnEvaluation(EvaluationReport report) { }
    /// <summary>After every GBA bias update.</summary>
    void OnBiasUpdate(long step, BiasUpdateSummary summary) { }
}

/// <summary>The outcome of a run.</summary>
public sealed record TrainingResult(Model.SparseAutoencoder Model, EvaluationMetrics Final, long Steps, long Tokens, double Seconds,
    IReadOnlyList<EvaluationReport> Evaluations, GroupBiasAdaptation? Groups)
{
    /// <summary>Tokens per second over the run.</summary>
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}
