using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Training;

/// <summary>The training algorithm.</summary>
public enum TrainingMethod
{
    /// <summary>Group Bias Adaptation: K groups with geometric target frequencies.</summary>
    Gba,
    /// <summary>Bias Adaptation: GBA with one group and one target frequency p.</summary>
    Ba,
    /// <summary>TopK baseline: k largest pre-activations per token; b trained by gradient.</summary>
    TopK,
    /// <summary>MP-SAE baseline: a matching-pursuit encoder of <see cref="TrainerOptions.MpSteps"/> steps over a tied dictionary.</summary>
    Mp,
}

/// <summary>How the per-neuron biases start (the paper is silent).</summary>
public enum BiasInitialization
{
    /// <summary>b = 0: the paper-literal start.</summary>
    Zero,
    /// <summary>b_m = −(1 − p_m) quantile of the neuron's own pre-activations on the first tokens, clamped to [−1, 0].</summary>
    Quantile,
}

/// <summary>
/// Every setting of a training run. Defaults follow the paper where it speaks and our measurements
/// where it is silent (README, "Defaults and why").
/// </summary>
public sealed record TrainerOptions
{
    public TrainingMethod Method { get; init; } = TrainingMethod.Gba;
    /// <summary>M, the number of neurons (dictionary size).</summary>
    public int Neurons { get; init; } = 2048;
    public bool Tied { get; init; } = true;
    public GateKind Gate { get; init; } = GateKind.JumpRelu;
    /// <summary>k for TopK.</summary>
    public int K { get; init; } = 3;

    /// <summary>T, the matching-pursuit steps per token for MP (at inference any T may be used).</summary>
    public int MpSteps { get; init; } = 3;

    /// <summary>K, the number of GBA groups.</summary>
    public int Groups { get; init; } = 10;
    /// <summary>Highest target frequency (group 1).</summary>
    public double Htf { get; init; } = 0.1;
    /// <summary>Lowest target frequency (group K).</summary>
    public double Ltf { get; init; } = 1e-3;
    /// <summary>BA's single target frequency p.</summary>
    public double Taf { get; init; } = 0.012;
    public double GammaPlus { get; init; } = 0.01;
    public double GammaMinus { get; init; } = 0.01;
    /// <summary>Below this buffered firing frequency a neuron counts as dead (paper silent; 1e-6 = fired zero times).</summary>
    public double DeadEpsilon { get; init; } = 1e-6;
    /// <summary>Tokens between bias updates (paper: batch 512 × 50 steps).</summary>
    public long BufferTokens { get; init; } = 25_600;
    public BiasInitialization BiasInit { get; init; } = BiasInitialization.Quantile;

    public int BatchSize { get; init; } = 512;
    /// <summary>Token budget; the run takes ceil(Tokens / BatchSize) steps.</summary>
    public long Tokens { get; init; } = 512L * 3000;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.0;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double AdamEpsilon { get; init; } = 1e-8;

    public ulong Seed { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;
    public InputNormalization Normalization { get; init; } = InputNormalization.DatasetScale;
    /// <summary>Tokens read first to estimate the input scale, b_pre and (quantile start) the biases.</summary>
    public int InitTokens { get; init; } = 25_600;
    /// <summary>Evaluate every this many steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 500;

    public long Steps => (Tokens + BatchSize - 1) / BatchSize;

    public SaeArchitecture Architecture(int dim) => Method == TrainingMethod.Mp
        ? new(dim, Neurons, Tied, GateKind.Relu, SparsityMode.MatchingPursuit, MpSteps)
        : new(dim, Neurons, Tied,
            Method == TrainingMethod.TopK ? GateKind.Relu : Gate,
            Method == TrainingMethod.TopK ? SparsityMode.TopK : SparsityMode.Threshold,
            Method == TrainingMethod.TopK ? K : 0);

    /// <summary>Target frequency per group (GBA: the geometric schedule; BA: one group at p).</summary>
    public double[] TargetFrequencies() => Method switch
    {
        TrainingMethod.Gba => GroupBiasAdaptation.Schedule(Groups, Htf, Ltf),
        TrainingMethod.Ba => [Taf],
        _ => [],
    };

    public void Validate()
    {
        if (Neurons < 1) throw new ArgumentException($"--d-sae must be positive (got {Neurons}).");
        if (BatchSize < 1) throw new ArgumentException($"--batch must be positive (got {BatchSize}).");
        if (Tokens < 1) throw new ArgumentException($"The token budget must be positive (got {Tokens}).");
        if (!(LearningRate > 0)) throw new ArgumentException($"--lr must be positive (got {LearningRate}).");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"--weight-decay must be non-negative (got {WeightDecay}).");
        if (Threads < 1) throw new ArgumentException($"--threads must be at least 1 (got {Threads}).");
        if (InitTokens < 1) throw new ArgumentException($"--init-tokens must be positive (got {InitTokens}).");
        if (BufferTokens < 1) throw new ArgumentException($"--buffer-tokens must be positive (got {BufferTokens}).");
        if (Method == TrainingMethod.TopK && (K < 1 || K > Neurons)) throw new ArgumentException($"--k must be in 1..M (got {K}).");
        if (Method == TrainingMethod.Mp && MpSteps < 1) throw new ArgumentException($"--mp-steps must be at least 1 (got {MpSteps}).");
        if (Method == TrainingMethod.Mp && !Tied) throw new ArgumentException("--method mp uses one tied dictionary to encode and decode: drop --untied.");
        if (Method == TrainingMethod.Gba && Groups > Neurons) throw new ArgumentException($"--groups ({Groups}) exceeds --d-sae ({Neurons}).");
        _ = TargetFrequencies();
    }
}
