namespace GbaEngine.Interop;

/// <summary>Where an <see cref="Inference.SaeModel"/> came from.</summary>
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
