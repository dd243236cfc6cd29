using GbaEngine.Model;

namespace GbaEngine.Interop;

/// <summary>
/// An SAE's weights in the inference layout, as every loader (and the engine's export) produces them
/// and <see cref="Inference.SaeModel"/> runs them: W_enc and W_dec as [M × d] rows, b_enc [M], b_dec [d],
/// JumpReLU thresholds [M] (empty otherwise), k for TopK, and where they came from.
/// </summary>
internal sealed record SaeWeights(int Dim, int Features, float[] Encoder, float[] EncoderBias, float[] Decoder, float[] DecoderBias,
    SaeActivation Activation, float[] Threshold, int K, bool ApplyDecoderBiasToInput, InputNormalization Normalization,
    SaeLayout Layout = SaeLayout.InMemory, string? Source = null);
