using GbaEngine.Evaluation;

namespace GbaEngine.Training;

/// <summary>One training step as seen by a progress display or a metrics log.</summary>
public readonly record struct StepReport(long Step, long TotalSteps, long Tokens, long TotalTokens, double Loss, double L0, double Seconds)
{
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}

/// <summary>An evaluation during or at the end of training.</summary>
public sealed record EvaluationReport(long Step, long Tokens, double Seconds, EvaluationMetrics Metrics);

/// <summary>Receives progress from <see cref="SaeTrainer"/>; all methods are called on the training thread.</summary>
public interface ITrainingObserver
{
    void OnStep(in StepReport report) { }
    void OnEvaluation(EvaluationReport report) { }
    void OnBiasUpdate(long step, BiasUpdateSummary summary) { }
}

/// <summary>The outcome of a run.</summary>
public sealed record TrainingResult(Model.SparseAutoencoder Model, EvaluationMetrics Final, long Steps, long Tokens, double Seconds,
    IReadOnlyList<EvaluationReport> Evaluations, GroupBiasAdaptation? Groups)
{
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}
