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
    /// <summary>L1 baseline (Anthropic, April 2024): ReLU, loss + λ·Σ_m ‖w_m‖·f_m, decoder rows not renormalised.</summary>
    L1,
    /// <summary>BatchTopK baseline (Bussmann et al. 2024): the k·B largest ReLU values over the batch; inference
    /// with a threshold estimated during training.</summary>
    BatchTopK,
    /// <summary>JumpReLU with an L0 penalty (Rajamanoharan et al. 2024): threshold θ = −b trained by a
    /// straight-through estimator.</summary>
    JumpReluL0,
    /// <summary>MP-SAE baseline: a matching-pursuit encoder of <see cref="TrainerOptions.MpSteps"/> steps over a tied dictionary.</summary>
    Mp,
}

/// <summary>How the per-neuron biases start (the paper is silent).</summary>
public enum BiasInitialization
{
    /// <summary>b = 0: the paper-literal start (every neuron fires on about half the tokens).</summary>
    Zero,
    /// <summary>b_m = −(1 − p_m) quantile of the neuron's own pre-activations on the first tokens, clamped to [−1, 0]:
    /// each neuron starts firing at its group's target frequency.</summary>
    Quantile,
    /// <summary>b_m = −max_t z_m over the first tokens, clamped to [−1, 0]: each neuron starts at the edge of its own
    /// pre-activations and fires only on the tokens most aligned with it (about one in <see cref="TrainerOptions.InitTokens"/>).</summary>
    Edge,
}

/// <summary>What GBA does with a neuron that did not fire in the last buffer (the too-active branch is the paper's in both).</summary>
public enum BiasRule
{
    /// <summary>Algorithm 2 of the paper: raise b_m by γ₊·r̄_k.</summary>
    Paper,
    /// <summary>Raise b_m by its shortfall −max_t y_m first, so that its largest pre-activation of the buffer sits on the
    /// threshold, then by γ₊·r̄_k: a dead neuron fires again at once, on the tokens it is most aligned with.</summary>
    Edge,
}

/// <summary>What happens to the centring bias b_pre (the paper's Algorithm 1 has none).</summary>
public enum PreBiasMode
{
    /// <summary>Starts at the data mean and is trained by AdamW with the weights.</summary>
    Trained,
    /// <summary>Fixed at the data mean of the first tokens.</summary>
    Frozen,
    /// <summary>Zero and never trained: Algorithm 1 literally.</summary>
    None,
}

/// <summary>
/// Every setting of a training run. Defaults follow the paper where it speaks and our measurements
/// where it is silent (README, "Defaults and why").
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>The training algorithm.</summary>
    public TrainingMethod Method { get; init; } = TrainingMethod.Gba;
    /// <summary>M, the number of neurons (dictionary size).</summary>
    public int Neurons { get; init; } = 2048;
    /// <summary>One matrix encodes and decodes (the paper's form); false: separate W_enc, W_dec.</summary>
    public bool Tied { get; init; } = true;
    /// <summary>The threshold gate of GBA and BA (JumpRelu or Relu).</summary>
    public SaeActivation Gate { get; init; } = SaeActivation.JumpRelu;
    /// <summary>k for TopK; BatchTopK's mean k per token (the batch keeps k·B).</summary>
    public int K { get; init; } = 3;

    /// <summary>L1: λ of the penalty λ·Σ_m |a_m|·‖w_m‖·h_m per token, next to the loss 0.5‖x̂ − x‖².</summary>
    public double L1Coefficient { get; init; } = 0.1;
    /// <summary>L1: λ rises linearly from 0 over this fraction of the steps (Anthropic: the first 5%).</summary>
    public double L1Warmup { get; init; } = 0.05;
    /// <summary>JumpReLU-L0: λ of the penalty λ·Σ_m 1[z_m &gt; θ_m] per token (the L0), next to 0.5‖x̂ − x‖².</summary>
    public double L0Coefficient { get; init; } = 0.05;
    /// <summary>JumpReLU-L0: ε, the width of the rectangle kernel of the straight-through estimator.</summary>
    public double SteBandwidth { get; init; } = 1e-3;
    /// <summary>JumpReLU-L0: θ's starting value (b = −θ), as in Rajamanoharan et al.</summary>
    public double InitialThreshold { get; init; } = 1e-3;
    /// <summary>BatchTopK: decay of the running estimate of the inference threshold (EMA of the smallest kept value).</summary>
    public double ThresholdDecay { get; init; } = 0.99;
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
    /// <summary>γ₊ of the bias rule.</summary>
    public double GammaPlus { get; init; } = 0.01;
    /// <summary>γ₋ of the bias rule.</summary>
    public double GammaMinus { get; init; } = 0.01;
    /// <summary>Below this buffered firing frequency a neuron counts as dead (paper silent; 1e-6 = fired zero times).</summary>
    public double DeadEpsilon { get; init; } = 1e-6;
    /// <summary>Tokens between bias updates (paper: batch 512 × 50 steps).</summary>
    public long BufferTokens { get; init; } = 25_600;
    /// <summary>How the biases start (GBA, BA).</summary>
    public BiasInitialization BiasInit { get; init; } = BiasInitialization.Edge;
    /// <summary>The GBA/BA rule for neurons that did not fire in the last buffer.</summary>
    public BiasRule BiasRule { get; init; } = BiasRule.Paper;
    /// <summary>Whether b_pre is trained, frozen at the data mean, or absent.</summary>
    public PreBiasMode PreBias { get; init; } = PreBiasMode.Trained;

    /// <summary>Tokens per step B.</summary>
    public int BatchSize { get; init; } = 512;
    /// <summary>Token budget; the run takes ceil(Tokens / BatchSize) steps.</summary>
    public long Tokens { get; init; } = 512L * 6000;
    /// <summary>AdamW learning rate.</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>AdamW decoupled weight decay.</summary>
    public double WeightDecay { get; init; } = 0.0;
    /// <summary>AdamW β₁.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>AdamW β₂.</summary>
    public double Beta2 { get; init; } = 0.999;
    /// <summary>AdamW ε.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>Seed of the initialisation and the GBA group split.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>Worker threads (results are bitwise the same only for the same count).</summary>
    public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Input normalisation (PerToken: every token scaled to unit norm, the paper's per-sample normalisation; or DatasetScale).</summary>
    public InputNormalization Normalization { get; init; } = InputNormalization.PerToken;
    /// <summary>Tokens read first to estimate the input scale, b_pre and (quantile start) the biases.</summary>
    public int InitTokens { get; init; } = 25_600;
    /// <summary>The kernel set the trainer and its model run on; null: <see cref="Kernels.KernelSelector.Current"/>
    /// (GBA_KERNELS, else the best this CPU has). Results are bitwise reproducible only on the same set. Not part
    /// of the options' JSON: a run records the set it used on its own (config.json, a checkpoint's "kernels"),
    /// and a resumed run may change it.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Kernels.KernelSet? Kernels { get; init; }

    /// <summary>Evaluate every this many steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 500;

    /// <summary>Also evaluate at this many log-spaced steps, from 1/256 of the budget to its end (0: none), so that a
    /// learning curve shows early progress as well as late.</summary>
    public int EvalPoints { get; init; }

    /// <summary>Whether the trainer evaluates after <paramref name="step"/> (the last step always is).</summary>
    public bool IsEvaluationStep(long step)
    {
        if (step == Steps || (EvalEvery > 0 && step % EvalEvery == 0)) return true;
        for (int i = 0; i < EvalPoints; i++)
            if (LogPoint(i) == step) return true;
        return false;
    }

    long LogPoint(int i) => EvalPoints == 1 ? Steps
        : Math.Max(1, (long)Math.Round(Steps * Math.Pow(256, (double)(i - (EvalPoints - 1)) / (EvalPoints - 1))));

    /// <summary>Steps the budget takes: ceil(Tokens / BatchSize).</summary>
    public long Steps => (Tokens + BatchSize - 1) / BatchSize;

    /// <summary>Bias updates the run will make (GBA and BA; 0 for the other methods).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long BiasUpdates => TargetFrequencies().Length == 0 ? 0 : Steps * BatchSize / BufferTokens;

    /// <summary>
    /// The fewest bias updates after which GBA/BA's recovery has flattened in our measurements (docs/experiments.md):
    /// about 100 from the edge start, where neurons begin sparse and learn at once; about 1,000 from the quantile or
    /// zero start, which must first bring dense neurons down by at most γ₋·r per update (the paper trains ~4,000).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long RecommendedBiasUpdates => BiasInit == BiasInitialization.Edge ? 100 : 1000;

    /// <summary>A warning when the budget gives the bias rule fewer updates than <see cref="RecommendedBiasUpdates"/>,
    /// naming the token budget that would; null when the budget is enough or the method has no bias rule.</summary>
    public string? BudgetWarning()
    {
        long updates = BiasUpdates, needed = RecommendedBiasUpdates;
        if (TargetFrequencies().Length == 0 || updates >= needed) return null;
        return $"the budget of {Tokens:N0} tokens gives the bias rule {updates} updates (one per {BufferTokens:N0} tokens); " +
               $"recovery has flattened after about {needed} from the {BiasInit.ToString().ToLowerInvariant()} start: " +
               $"train at least {needed * BufferTokens:N0} tokens.";
    }

    /// <summary>Whether AdamW trains b (every baseline) or the GBA bias rule owns it (GBA, BA).</summary>
    public bool TrainsBiasByGradient => Method is not (TrainingMethod.Gba or TrainingMethod.Ba);

    /// <summary>Whether decoder rows are put back on the unit sphere after each step (all but L1, whose
    /// penalty carries the decoder norm instead).</summary>
    public bool RenormalizesDecoder => Method != TrainingMethod.L1;

    /// <summary>The architecture the method trains at input width <paramref name="dim"/>.</summary>
    public SaeArchitecture Architecture(int dim) => Method switch
    {
        TrainingMethod.TopK => new(dim, Neurons, Tied, SaeActivation.Relu, SparsityMode.TopK, K),
        TrainingMethod.L1 or TrainingMethod.BatchTopK => new(dim, Neurons, Tied, SaeActivation.Relu),
        TrainingMethod.JumpReluL0 => new(dim, Neurons, Tied, SaeActivation.JumpRelu),
        TrainingMethod.Mp => new(dim, Neurons, Tied, SaeActivation.Relu, SparsityMode.MatchingPursuit, MpSteps),
        _ => new(dim, Neurons, Tied, Gate),
    };

    /// <summary>Target frequency per group (GBA: the geometric schedule; BA: one group at p).</summary>
    public double[] TargetFrequencies() => Method switch
    {
        TrainingMethod.Gba => GroupBiasAdaptation.Schedule(Groups, Htf, Ltf),
        TrainingMethod.Ba => [Taf],
        _ => [],
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first bad setting (by its gba option).</summary>
    public void Validate()
    {
        if (Neurons < 1) throw new ArgumentException($"--d-sae must be positive (got {Neurons}).");
        if (BatchSize < 1) throw new ArgumentException($"--batch must be positive (got {BatchSize}).");
        if (Tokens < 1) throw new ArgumentException($"The token budget must be positive (got {Tokens}).");
        if (!(LearningRate > 0)) throw new ArgumentException($"--lr must be positive (got {LearningRate}).");
        if (!(WeightDecay >= 0)) throw new ArgumentException($"--weight-decay must be non-negative (got {WeightDecay}).");
        if (Threads < 1) throw new ArgumentException($"--threads must be at least 1 (got {Threads}).");
        if (EvalPoints < 0) throw new ArgumentException($"EvalPoints must be non-negative (got {EvalPoints}).");
        if (InitTokens < 1) throw new ArgumentException($"--init-tokens must be positive (got {InitTokens}).");
        if (BufferTokens < 1) throw new ArgumentException($"--buffer-tokens must be positive (got {BufferTokens}).");
        if (Method is TrainingMethod.TopK or TrainingMethod.BatchTopK && (K < 1 || K > Neurons)) throw new ArgumentException($"--k must be in 1..M (got {K}).");
        if (!(L1Coefficient >= 0) || double.IsInfinity(L1Coefficient)) throw new ArgumentException($"--l1 must be finite and non-negative (got {L1Coefficient}).");
        if (!(L1Warmup >= 0 && L1Warmup <= 1)) throw new ArgumentException($"--l1-warmup must lie in [0, 1] (got {L1Warmup}).");
        if (!(L0Coefficient >= 0) || double.IsInfinity(L0Coefficient)) throw new ArgumentException($"--l0-coefficient must be finite and non-negative (got {L0Coefficient}).");
        // Below ~1e-5 the window is narrower than float resolution at |z| ~ 1 and the estimator sees nothing.
        if (!(SteBandwidth >= 1e-5 && SteBandwidth <= 1)) throw new ArgumentException($"--ste-bandwidth must lie in [1e-5, 1] (got {SteBandwidth}).");
        if (!(InitialThreshold >= 0 && InitialThreshold <= 1)) throw new ArgumentException($"--threshold-init must lie in [0, 1] (got {InitialThreshold}).");
        if (!(ThresholdDecay >= 0 && ThresholdDecay < 1)) throw new ArgumentException($"--threshold-decay must lie in [0, 1) (got {ThresholdDecay}).");
        if (Method == TrainingMethod.Mp && MpSteps < 1) throw new ArgumentException($"--mp-steps must be at least 1 (got {MpSteps}).");
        if (Method == TrainingMethod.Mp && !Tied) throw new ArgumentException("--method mp uses one tied dictionary to encode and decode: drop --untied.");
        if (Method == TrainingMethod.Gba && Groups > Neurons) throw new ArgumentException($"--groups ({Groups}) exceeds --d-sae ({Neurons}).");
        _ = TargetFrequencies();
    }
}
