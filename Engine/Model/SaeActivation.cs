namespace GbaEngine.Model;

/// <summary>
/// How an SAE turns pre-activations into feature values: the one activation vocabulary of training
/// (<see cref="SaeArchitecture.Gate"/>, <see cref="SaeArchitecture.EffectiveGate"/>) and inference
/// (<see cref="Inference.SaeModel.Activation"/>), named as SAELens names the architectures.
/// </summary>
public enum SaeActivation
{
    /// <summary>f = a·z·1[z + b &gt; 0] in training, f = pre·1[pre &gt; θ] in inference (θ = −b): the bias is a
    /// pure firing threshold (the paper's LLM runs; SAELens "jumprelu").</summary>
    JumpRelu,
    /// <summary>f = a·relu(z + b) (SAELens "standard").</summary>
    Relu,
    /// <summary>The k largest positive pre-activations keep their value, the rest are 0 (SAELens "topk", sparsify).</summary>
    TopK,
}

/// <summary>
/// How inputs are brought to a common scale before the SAE sees them, and outputs taken back: one
/// vocabulary for training (<see cref="DatasetScale"/> or <see cref="PerToken"/>) and inference
/// (<see cref="None"/>, <see cref="PerToken"/> or <see cref="LayerNorm"/>; a dataset scale is folded into
/// the weights of an exported SAE, so inference never sees it).
/// </summary>
public enum InputNormalization
{
    /// <summary>Training: one dataset-level factor s so that the mean token norm is 1 (estimated once, stored with the model).</summary>
    DatasetScale,
    /// <summary>Every token brought to a fixed norm and the output taken back by it: unit norm in the engine's
    /// training form (the paper's "sample and normalize" taken literally), √d in the inference form
    /// (x' = x·√d/‖x‖, SAELens "constant_norm_rescale"); the export folds the constant into the weights.</summary>
    PerToken,
    /// <summary>Inference: raw activations in and out (any dataset-level scale is folded into the weights).</summary>
    None,
    /// <summary>Inference: x' = (x − mean) / (std + 1e-5) in, x̂ = x̂'·std + mean out, std with Bessel's correction (SAELens "layer_norm").</summary>
    LayerNorm,
}
