namespace GbaEngine.Interop;

/// <summary>
/// What an exported SAE says about where its activations came from: the fields SAELens 6 keeps in
/// cfg.json's "metadata" block (its training runner writes them; SAEBench and HookedSAETransformer read
/// them). Unknown fields stay null and are left out of the file. SAEBench takes the layer from the
/// first number in <see cref="HookName"/> and refuses an SAE without <see cref="HookName"/> or
/// <see cref="ModelName"/>.
/// </summary>
public sealed record SaeLensMetadata
{
    /// <summary>The model the activations were taken from (TransformerLens / Hugging Face name, e.g. "gpt2").</summary>
    public string? ModelName { get; init; }

    /// <summary>The hook point (TransformerLens name, e.g. "blocks.6.hook_resid_post").</summary>
    public string? HookName { get; init; }

    /// <summary>Tokens per sequence the activations were harvested with.</summary>
    public int? ContextSize { get; init; }

    /// <summary>The text data set (Hugging Face path or a file) the activations were harvested from.</summary>
    public string? DatasetPath { get; init; }

    /// <summary>Whether each sequence started with the tokenizer's BOS token.</summary>
    public bool? PrependBos { get; init; }

    /// <summary>This engine's description of the activation files it trained on (metadata "dataset", a key of its own).</summary>
    public string? Dataset { get; init; }
}
