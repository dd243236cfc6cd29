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
    void OnBiasUpdate(BiasUpdateReport report) { }
}

/// <summary>
/// One application of the GBA/BA bias rule, with what it acted on: the buffer's mean number of firing neurons per
/// token, ‖b_pre‖ and the spread of b afterwards (10th, 50th and 90th percentiles). Logged so that the rule's
/// decisions can be followed over a run (a collapse to a dense code shows as L0 climbing while few neurons are lowered).
/// </summary>
public readonly record struct BiasUpdateReport(long Step, BiasUpdateSummary Rule, double BufferL0, double PreBiasNorm,
    float BiasP10, float BiasMedian, float BiasP90);

/// <summary>The outcome of a run.</summary>
public sealed record TrainingResult(Model.SparseAutoencoder Model, EvaluationMetrics Final, long Steps, long Tokens, double Seconds,
    IReadOnlyList<EvaluationReport> Evaluations, GroupBiasAdaptation? Groups)
{
    /// <summary>Tokens per second over the run.</summary>
    public double TokensPerSecond => Seconds > 0 ? Tokens / Seconds : 0;
}
