using GbaEngine.Kernels;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;
using GbaEngine.Encoders;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// A baseline's own work around the shared encode / decode / gradient calls of a training step, so
/// every method runs through the same model, kernels and trainer. <see cref="SaeTrainer"/> calls, per
/// step: <see cref="Encode"/> (instead of the plain encoder pass), SparseBackward's Decode and
/// Gradients, <see cref="AddGradients"/>, AdamW, <see cref="AfterStep"/>, then the decoder
/// renormalisation if the method has one. GBA, BA and TopK have no such step.
/// </summary>
internal interface IBaselineStep
{
    /// <summary>Method-specific start, after the shared initialisation of weights and biases.</summary>
    void Initialize(SaeParameters p);

    /// <summary>Fills code with the batch's active entries (the code Decode and Gradients see).</summary>
    void Encode(BatchEncoder encoder, AlignedArray x, int rows, SparseCode code);

    /// <summary>After SparseBackward.Gradients: adds the method's own terms to grad and returns their
    /// value (mean per token), which the step adds to the reconstruction loss it reports.</summary>
    double AddGradients(BatchEncoder encoder, SparseBackward backward, int rows, SparseCode code, SaeParameters grad,
        long step, long totalSteps);

    /// <summary>After the optimiser step: projections onto the method's feasible set.</summary>
    void AfterStep(SaeParameters p);

    /// <summary>Before each evaluation and at the end: puts the model in the method's inference form.</summary>
    void Publish(SparseAutoencoder model);

    /// <summary>State the method carries between steps outside the parameters (for a checkpoint), or null.</summary>
    System.Text.Json.Nodes.JsonObject? CaptureState() => null;

    /// <summary>Takes over state from <see cref="CaptureState"/> (null: the checkpoint has none).</summary>
    /// <param name="source">Names the checkpoint in error messages.</param>
    void RestoreState(System.Text.Json.Nodes.JsonObject? state, string source) { }
}

/// <summary>Which baseline step a method needs.</summary>
internal static class BaselineSteps
{
    /// <summary>The step for <paramref name="o"/>'s method, or null (GBA, BA and TopK need none).</summary>
    public static IBaselineStep? Create(TrainerOptions o, SaeParameters p, WorkerPool pool, KernelSet kernels) => o.Method switch
    {
        TrainingMethod.L1 => new L1Penalty(p, pool, o.L1Coefficient, o.L1Warmup) { Kernels = kernels },
        TrainingMethod.BatchTopK => new BatchTopKSelection(p, o.K, o.ThresholdDecay),
        TrainingMethod.JumpReluL0 => new JumpReluL0(p, o.L0Coefficient, o.SteBandwidth, o.InitialThreshold) { Kernels = kernels },
        _ => null,
    };
}
