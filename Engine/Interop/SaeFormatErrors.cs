using GbaEngine.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Interop;

/// <summary>
/// Errors for SAE directories that cannot be loaded: a missing or empty file, cfg.json that is not
/// JSON or lacks a field, an unknown architecture, a missing tensor, a tensor whose shape disagrees
/// with cfg.json's d_in / d_sae, a truncated or corrupt safetensors file, non-finite weights. Each is
/// one <see cref="InvalidDataException"/> whose message starts with the file and says what was
/// expected and what was found.
/// </summary>
internal static class SaeFormatErrors
{
    public static InvalidDataException Create(string path, string message, Exception? inner = null) => new($"{path}: {message}", inner);

    /// <summary>The safetensors parser reports with the file first already; keep its message as is.</summary>
    public static InvalidDataException From(ActivationFormatException e) => new(e.Message, e);
}
