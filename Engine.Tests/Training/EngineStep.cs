using GbaEngine.Encoders;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;
using GbaEngine.Training;
using static GbaEngine.Tests.Training.EncoderProblem;

namespace GbaEngine.Tests.Training;

/// <summary>
/// The engine's sparse float32 step on one small batch, as the tests drive it against the float64 reference:
/// one worker pool shared by the encoder and the sparse backward, the padded batch, its code and a zero
/// gradient of the parameters' shape. A baseline's test adds its own selection or penalty between the steps.
/// </summary>
internal sealed class EngineStep : IDisposable
{
    public EngineStep(SaeArchitecture arch, SaeParameters p, float[] x, int rows, int threads)
    {
        Rows = rows;
        Pool = new WorkerPool(threads);
        Encoder = new BatchEncoder(arch, p, rows, Pool);
        Backward = new SparseBackward(arch, p, rows, Pool);
        X = Padded(x, rows, p);
        Grad = p.CloneShape();
    }

    public int Rows { get; }
    public WorkerPool Pool { get; }
    public BatchEncoder Encoder { get; }
    public SparseBackward Backward { get; }
    /// <summary>The batch [Rows × Stride].</summary>
    public AlignedArray X { get; }
    public SparseCode Code { get; } = new();
    public SaeParameters Grad { get; }

    /// <summary>The plain encoder's code of X.</summary>
    public void Encode(FiringStatistics? stats = null) => Encoder.Encode(X, Rows, Code, stats);

    /// <summary>Decodes Code (the reconstruction loss, returned; the error stays in <see cref="SparseBackward.Error"/>).</summary>
    public double Decode() => Backward.Decode(X, Rows, Code);

    /// <summary>Decodes Code and writes its gradients into Grad; returns the reconstruction loss.</summary>
    public double Backpropagate()
    {
        double loss = Decode();
        Backward.Gradients(Encoder.Xc, Rows, Code, Grad);
        return loss;
    }

    public void Dispose()
    {
        Backward.Dispose();
        Encoder.Dispose();
        Pool.Dispose();
    }
}
