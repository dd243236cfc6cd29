namespace GbaEngine.Model;

/// <summary>Which neurons produce output for a token.</summary>
public enum SparsityMode
{
    /// <summary>Neurons whose pre-activation y = z + b is positive (GBA, BA): sparsity comes from the biases.</summary>
    Threshold,
    /// <summary>The k largest positive pre-activations per token.</summary>
    TopK,
    /// <summary>
    /// MP-SAE (spec/gba.md §4): K steps of matching pursuit over the tied unit-norm dictionary; each
    /// step takes the atom most positively correlated with the residual and subtracts its projection.
    /// </summary>
    MatchingPursuit,
}

/// <summary>The shape and form of a sparse autoencoder (spec/gba.md §2).</summary>
/// <param name="Dim">Input width d.</param>
/// <param name="Neurons">Dictionary size M.</param>
/// <param name="Tied">True: one matrix W encodes and decodes (the paper's form); false: separate W_enc, W_dec.</param>
/// <param name="Gate">JumpReLU (default) or ReLU; TopK always uses ReLU on the selected neurons.</param>
/// <param name="Sparsity">Threshold (GBA, BA) or TopK.</param>
/// <param name="K">k for TopK; the number of matching-pursuit steps T for MatchingPursuit; ignored otherwise.</param>
public sealed record SaeArchitecture(int Dim, int Neurons, bool Tied = true, SaeActivation Gate = SaeActivation.JumpRelu,
    SparsityMode Sparsity = SparsityMode.Threshold, int K = 0)
{
    /// <summary>
    /// ReLU gate only: the firing threshold θ ≥ 0, so a neuron is active when y &gt; θ and then h = y
    /// (SAELens "jumprelu" with b_enc = b). BatchTopK's inference form (Bussmann et al. 2024): θ is the
    /// running estimate of the smallest value its batch-level selection keeps. 0 (plain ReLU) otherwise.
    /// </summary>
    public float ReluThreshold { get; init; }

    /// <summary>Throws an <see cref="ArgumentException"/> for an inconsistent architecture.</summary>
    public void Validate()
    {
        if (Dim <= 0) throw new ArgumentException($"Input width d must be positive (got {Dim}).");
        if (Neurons <= 0) throw new ArgumentException($"Neuron count M must be positive (got {Neurons}).");
        if (Sparsity == SparsityMode.TopK && (K <= 0 || K > Neurons))
            throw new ArgumentException($"TopK needs 1 <= k <= M (got k = {K}, M = {Neurons}).");
        if (!(ReluThreshold >= 0) || float.IsPositiveInfinity(ReluThreshold))
            throw new ArgumentException($"The ReLU firing threshold must be finite and non-negative (got {ReluThreshold}).");
        if (ReluThreshold > 0 && (Gate != SaeActivation.Relu || Sparsity != SparsityMode.Threshold))
            throw new ArgumentException("A ReLU firing threshold needs the ReLU gate with threshold sparsity.");
        if (Sparsity == SparsityMode.MatchingPursuit && K < 1)
            throw new ArgumentException($"Matching pursuit needs at least one step (got {K}).");
        if (Sparsity == SparsityMode.MatchingPursuit && !Tied)
            throw new ArgumentException("Matching pursuit encodes and decodes with one dictionary: it must be tied.");
    }

    /// <summary>The gate actually applied: TopK selects on relu(y).</summary>
    public SaeActivation EffectiveGate => Sparsity == SparsityMode.TopK ? SaeActivation.Relu : Gate;
}
