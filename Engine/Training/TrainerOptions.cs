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

/// <summary>How an untied encoder starts (a tied SAE encodes with its unit-norm decoder rows).</summary>
public enum EncoderStart
{
    /// <summary>The encoder is a copy of the unit-norm decoder rows.</summary>
    Decoder,
    /// <summary>The peers' TopK start (sparsify, OpenAI): entries U(−1/√d, 1/√d) as torch's nn.Linear draws them, rows
    /// of norm about 1/√3; the decoder rows are the same rows at unit norm.</summary>
    Linear,
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
/// where it is silent (docs/cli.md, "Defaults and why").
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>The training algorithm.</summary>
    public TrainingMethod Method { get; init; } = TrainingMethod.Gba;
    /// <summary>M, the number of neurons (dictionary size).</summary>
    public int Neurons { get; init; } = 2048;
    bool? _tied;
    /// <summary>One matrix encodes and decodes (the paper's form); false: separate W_enc, W_dec. Unless set: untied
    /// for TopK and BatchTopK, as every peer trains them (with the peers' encoder start they recover more of the
    /// s = 3/20 mixture at k = 10 and 20 than tied: docs/experiments/mixture-baselines.md), tied for the rest.</summary>
    public bool Tied
    {
        get => _tied ?? Method is not (TrainingMethod.TopK or TrainingMethod.BatchTopK);
        init => _tied = value;
    }
    /// <summary>How an untied encoder starts; null: the method's (<see cref="ResolvedEncoderStart"/>).</summary>
    public EncoderStart? EncoderStart { get; init; }
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

    /// <summary>TopK and BatchTopK: k_aux of the AuxK loss (Gao et al. 2024), the dead latents per token that
    /// reconstruct the residual; null: d/2 (sparsify's default); 0: no AuxK.</summary>
    public int? AuxK { get; init; }
    /// <summary>α, the AuxK loss's weight next to the reconstruction loss (sparsify: 1/32).</summary>
    public double AuxKCoefficient { get; init; } = 1.0 / 32;
    /// <summary>A latent is dead after more than this many tokens without firing (AuxK and resampling); null: the
    /// method's default (<see cref="ResolvedDeadTokens"/>).</summary>
    public long? DeadTokens { get; init; }
    /// <summary>L1 and JumpReLU-L0: resample the dead latents every this many steps (0: never, the peers' default).</summary>
    public int ResampleEvery { get; init; }

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
    long _tokens = 512L * 6000;
    long? _steps;

    /// <summary>Token budget; the run takes ceil(Tokens / BatchSize) steps. When <see cref="Steps"/> was set
    /// instead, Steps × BatchSize.</summary>
    public long Tokens
    {
        get => _steps is { } steps ? steps * BatchSize : _tokens;
        init { _tokens = value; _steps = null; }
    }

    /// <summary>
    /// Steps of the run: ceil(Tokens / BatchSize), or the number set here, which then fixes the budget in
    /// steps whatever order an initializer sets <see cref="BatchSize"/> in (the last of Steps and Tokens set wins).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long Steps
    {
        get => _steps ?? (_tokens + BatchSize - 1) / BatchSize;
        init => _steps = value;
    }
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
    /// <summary>Fraction of the steps over which the learning rate rises linearly from 0 (<see cref="LearningRateSchedule"/>).</summary>
    public double LrWarmup { get; init; }
    /// <summary>How the learning rate decays after <see cref="LrDecayStart"/>.</summary>
    public LearningRateDecay LrSchedule { get; init; } = LearningRateDecay.Constant;
    /// <summary>Fraction of the steps after which a cosine or linear schedule decays (dictionary_learning: 0.8).</summary>
    public double LrDecayStart { get; init; } = 0.8;

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

    /// <summary>Whether the method takes AuxK (TopK, BatchTopK) and it is on.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool UsesAuxK => Method is TrainingMethod.TopK or TrainingMethod.BatchTopK && AuxK != 0;

    /// <summary>Whether the method resamples dead latents (L1, JumpReLU-L0 with <see cref="ResampleEvery"/> &gt; 0).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool UsesResampling => Method is TrainingMethod.L1 or TrainingMethod.JumpReluL0 && ResampleEvery > 0;

    /// <summary>Whether the trainer counts tokens since each latent last fired (AuxK or resampling needs it).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool TracksDeadLatents => UsesAuxK || UsesResampling;

    /// <summary>k_aux for data of width <paramref name="dim"/>: the setting, or d/2 (at least 1).</summary>
    public int ResolvedAuxK(int dim) => AuxK ?? Math.Max(1, dim / 2);

    /// <summary>These options with k_aux's default made explicit for data of width <paramref name="dim"/> (unchanged when AuxK is off
    /// or not the method's), so that a record of the run states the value it used.</summary>
    public TrainerOptions WithResolvedAuxK(int dim) => UsesAuxK ? this with { AuxK = ResolvedAuxK(dim) } : this;

    /// <summary>
    /// The dead window N in tokens. AuxK: the paper's and sparsify's 10M tokens, but at most a tenth of the
    /// budget, so a short run (the 5M-token mixture) still revives latents within its first tenth rather
    /// than never. Resampling: half the resampling interval, dictionary_learning's rule
    /// (steps_since_active &gt; resample_steps / 2).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long ResolvedDeadTokens => DeadTokens ?? (UsesResampling
        ? (long)ResampleEvery * BatchSize / 2
        : Math.Max(1, Math.Min(10_000_000, Tokens / 10)));

    /// <summary>How the encoder starts: <see cref="EncoderStart"/> if set; otherwise <see cref="Training.EncoderStart.Linear"/>
    /// for untied TopK and BatchTopK, the start of the peers that train them (sparsify, OpenAI), and
    /// <see cref="Training.EncoderStart.Decoder"/> for the rest; a tied SAE encodes with its decoder rows.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public EncoderStart ResolvedEncoderStart => Tied ? Training.EncoderStart.Decoder
        : EncoderStart ?? (Method is TrainingMethod.TopK or TrainingMethod.BatchTopK ? Training.EncoderStart.Linear : Training.EncoderStart.Decoder);

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

    /// <summary>
    /// Throws an <see cref="ArgumentException"/> naming the first bad setting by its property (its
    /// <see cref="ArgumentException.ParamName"/> is the property's name).
    /// </summary>
    public void Validate()
    {
        Require(Neurons >= 1, nameof(Neurons), $"must be at least 1 (got {Neurons})");
        Require(BatchSize >= 1, nameof(BatchSize), $"must be at least 1 (got {BatchSize})");
        if (_steps is { } steps)
            Require(steps >= 1 && steps <= long.MaxValue / BatchSize, nameof(Steps), $"must be at least 1 and Steps × BatchSize fit in a long (got {steps})");
        else Require(_tokens >= 1, nameof(Tokens), $"must be at least 1 (got {_tokens})");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), nameof(LearningRate), $"must be finite and positive (got {LearningRate})");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), $"must be finite and non-negative (got {WeightDecay})");
        Require(Threads >= 1, nameof(Threads), $"must be at least 1 (got {Threads})");
        Require(InitTokens >= 1, nameof(InitTokens), $"must be at least 1 (got {InitTokens})");
        Require(BufferTokens >= 1, nameof(BufferTokens), $"must be at least 1 (got {BufferTokens})");
        Require(EvalPoints >= 0, nameof(EvalPoints), $"must be 0 or positive (got {EvalPoints})");
        Require(EvalEvery >= 0, nameof(EvalEvery), $"must be 0 (only at the end) or positive (got {EvalEvery})");
        if (Method is TrainingMethod.TopK or TrainingMethod.BatchTopK) Require(K >= 1 && K <= Neurons, nameof(K), $"must lie in 1..Neurons = {Neurons} (got {K})");
        Require(L1Coefficient >= 0 && double.IsFinite(L1Coefficient), nameof(L1Coefficient), $"must be finite and non-negative (got {L1Coefficient})");
        Require(L1Warmup >= 0 && L1Warmup <= 1, nameof(L1Warmup), $"must lie in [0, 1] (got {L1Warmup})");
        Require(L0Coefficient >= 0 && double.IsFinite(L0Coefficient), nameof(L0Coefficient), $"must be finite and non-negative (got {L0Coefficient})");
        // Below ~1e-5 the window is narrower than float resolution at |z| ~ 1 and the estimator sees nothing.
        Require(SteBandwidth >= 1e-5 && SteBandwidth <= 1, nameof(SteBandwidth), $"must lie in [1e-5, 1] (got {SteBandwidth})");
        Require(InitialThreshold >= 0 && InitialThreshold <= 1, nameof(InitialThreshold), $"must lie in [0, 1] (got {InitialThreshold})");
        Require(ThresholdDecay >= 0 && ThresholdDecay < 1, nameof(ThresholdDecay), $"must lie in [0, 1) (got {ThresholdDecay})");
        Require(EncoderStart is null || !Tied, nameof(EncoderStart), "applies to untied SAEs only (a tied SAE encodes with its decoder rows)");
        if (Method == TrainingMethod.Mp)
        {
            Require(MpSteps >= 1, nameof(MpSteps), $"must be at least 1 (got {MpSteps})");
            Require(Tied, nameof(Tied), "must be true for Method = Mp (one dictionary encodes and decodes)");
        }
        if (Method == TrainingMethod.Gba)
        {
            Require(Groups >= 1 && Groups <= Neurons, nameof(Groups), $"must lie in 1..Neurons = {Neurons} (got {Groups})");
            Require(Htf > 0 && Htf <= 1 && Ltf > 0 && Ltf <= Htf, nameof(Htf), $"and Ltf must satisfy 0 < Ltf <= Htf <= 1 (got Htf {Htf}, Ltf {Ltf})");
        }
        if (Method == TrainingMethod.Ba) Require(Taf > 0 && Taf <= 1, nameof(Taf), $"must lie in (0, 1] (got {Taf})");
        if (Method is TrainingMethod.Gba or TrainingMethod.Ba)
        {
            Require(DeadEpsilon > 0 && DeadEpsilon <= 1, nameof(DeadEpsilon), $"must lie in (0, 1] (got {DeadEpsilon})");
            // A step of the whole bias range [−1, 0] or more per update is no longer an adaptation.
            Require(GammaPlus > 0 && GammaPlus <= 1, nameof(GammaPlus), $"must lie in (0, 1] (got {GammaPlus})");
            Require(GammaMinus > 0 && GammaMinus <= 1, nameof(GammaMinus), $"must lie in (0, 1] (got {GammaMinus})");
        }
        if (AuxK < 0) throw new ArgumentException($"--aux-k must be non-negative (0: off; got {AuxK}).");
        if (AuxK > 0 && Method is not (TrainingMethod.TopK or TrainingMethod.BatchTopK))
            throw new ArgumentException($"--aux-k applies to --method topk and batchtopk, not {Method}.");
        if (AuxK > Neurons) throw new ArgumentException($"--aux-k ({AuxK}) exceeds --d-sae ({Neurons}).");
        if (!(AuxKCoefficient >= 0) || double.IsInfinity(AuxKCoefficient)) throw new ArgumentException($"--aux-k-coefficient must be finite and non-negative (got {AuxKCoefficient}).");
        if (DeadTokens < 1) throw new ArgumentException($"--dead-tokens must be positive (got {DeadTokens}).");
        if (ResampleEvery < 0) throw new ArgumentException($"--resample-every must be non-negative (0: never; got {ResampleEvery}).");
        if (ResampleEvery > 0 && Method is not (TrainingMethod.L1 or TrainingMethod.JumpReluL0))
            throw new ArgumentException($"--resample-every applies to --method l1 and jumprelu-l0, not {Method} (TopK and BatchTopK revive latents with AuxK).");
        LearningRateSchedule.Of(this).Validate();
        _ = TargetFrequencies();
    }

    static void Require(bool ok, string property, string rule)
    {
        if (!ok) throw new ArgumentException($"TrainerOptions.{property} {rule}.", property);
    }
}
