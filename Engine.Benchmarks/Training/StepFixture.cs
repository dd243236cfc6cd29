using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Threading;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

/// <summary>
/// The shared setup of the step benchmarks (`--step-ratios` and <see cref="TrainingStepBenchmarks"/>):
/// the paper's synthetic model at width d, generated once and replayed from memory so no timing
/// includes generation; a trainer warmed up past its first GBA bias update; and, on the trainer's
/// weights, the encoder product alone and the fused encoder over one normalised batch.
/// </summary>
internal sealed unsafe class StepFixture : IDisposable
{
    public StepFixture(TrainingMethod method, int batch, int d, int m, int threads, int k)
    {
        (Batch, Dim, Neurons) = (batch, d, m);
        Spec = new SyntheticSpec(Features: 4 * d, Dim: d, Sparsity: 16);
        var tokens = new float[(long)batch * 8 * d];
        using (var gen = new SyntheticModel(Spec, 7).OpenStream(0)) gen.NextBatch(tokens, batch * 8);
        Stream = new MemoryTokenStream(tokens, d);
        Options = new TrainerOptions
        {
            Method = method, Neurons = m, BatchSize = batch, Threads = threads, K = k, EvalEvery = 0,
            Tokens = (long)batch * 1_000_000,
        };
        Trainer = new SaeTrainer(Options, d);
        Trainer.Initialize(Stream);
        // Warm-up: JIT, buffer growth, and at least one GBA bias update so the biases are past their start.
        long warmSteps = Math.Max(3, Options.BufferTokens / batch + 1);
        for (long s = 0; s < warmSteps; s++) Trainer.TrainStep(Stream);

        var p = Trainer.Model.Parameters;
        _pool = new WorkerPool(threads);
        _gemm = new SgemmContext(_pool);
        _encoder = new BatchEncoder(Trainer.Model.Architecture, p, batch, _pool);
        _x = new AlignedArray((long)batch * p.Stride);
        Trainer.Model.NormalizeBatch(tokens.AsSpan(0, batch * d), batch, _x.Span, new float[batch]);
        _stats = new FiringStatistics(m);
        _encoder.Encode(_x, batch, _code, _stats);
    }

    readonly WorkerPool _pool;
    readonly SgemmContext _gemm;
    readonly BatchEncoder _encoder;
    readonly AlignedArray _x;
    readonly SparseCode _code = new();
    readonly FiringStatistics _stats;

    public int Batch { get; }
    public int Dim { get; }
    public int Neurons { get; }
    public SyntheticSpec Spec { get; }
    public TrainerOptions Options { get; }
    public MemoryTokenStream Stream { get; }
    public SaeTrainer Trainer { get; }
    public string KernelName => _gemm.Kernels.ToString();

    /// <summary>The encoder's dense product alone: SGEMM with a no-op epilogue, no C stored.</summary>
    public void Product()
    {
        var p = Trainer.Model.Parameters;
        _gemm.MultiplyFused(GemmTranspose.NoTranspose, GemmTranspose.Transpose, Batch, Neurons, Dim, 1f,
            _encoder.Xc.Pointer, p.Stride, p.Data.Pointer + p.EncoderOffset, p.Stride, default(StoreEpilogue));
    }

    /// <summary>The fused encoder: product + bias + gate + statistics + sparse code.</summary>
    public void FusedEncode() => _encoder.Encode(_x, Batch, _code, _stats);

    /// <summary>One whole training step; returns its batch L0.</summary>
    public double Step() => Trainer.TrainStep(Stream).L0;

    public void Dispose()
    {
        _encoder.Dispose();
        _gemm.Dispose();
        _pool.Dispose();
        Trainer.Dispose();
    }
}
