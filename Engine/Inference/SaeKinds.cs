namespace GbaEngine.Inference;

/// <summary>How an <see cref="SaeModel"/> turns pre-activations into feature values.</summary>
public enum SaeActivation
{
    /// <summary>f = max(pre, 0) (SAELens "standard").</summary>
    Relu,
    /// <summary>f = pre·1[pre &gt; θ] with a per-feature threshold θ (SAELens "jumprelu"; the engine's GBA gate).</summary>
    JumpRelu,
    /// <summary>The k largest positive pre-activations keep their value, the rest are 0 (SAELens "topk", sparsify).</summary>
    TopK,
}

/// <summary>How inputs are brought to the scale the SAE was trained at, and outputs taken back.</summary>
public enum SaeInputNormalization
{
    /// <summary>Raw activations in and out (any dataset-level scale is folded into the weights).</summary>
    None,
    /// <summary>x' = x·√d / ‖x‖ in, x̂ = x̂'·‖x‖ / √d out (SAELens "constant_norm_rescale"; the engine's per-token unit norm).</summary>
    ConstantNormRescale,
    /// <summary>x' = (x − mean) / (std + 1e-5) in, x̂ = x̂'·std + mean out, std with Bessel's correction (SAELens "layer_norm").</summary>
    LayerNorm,
}

/// <summary>Where an <see cref="SaeModel"/> came from.</summary>
public enum SaeLayout
{
    /// <summary>Built in memory (from arrays or a trained <see cref="Model.SparseAutoencoder"/>).</summary>
    InMemory,
    /// <summary>This engine's export: the SAELens layout with a "gba_engine" section in cfg.json.</summary>
    GbaEngine,
    /// <summary>SAELens: cfg.json + sae_weights.safetensors.</summary>
    SaeLens,
    /// <summary>EleutherAI sparsify: cfg.json + sae.safetensors.</summary>
    Sparsify,
}
