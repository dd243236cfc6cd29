using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Threading;
using GbaEngine.Training;
using GbaEngine.Encoders;

namespace GbaEngine.Benchmarks.Training;

/// <summary>
/// The shared setup of the step benchmarks (`--step-ratios` and <see cref="TrainingStepBenchmarks"/>):
/// the paper's synthetic model at width d, generated once and replayed from memory so no timing
/// includes generation; a trainer warmed up to the state a run spends nearly all its steps in; and,
/// on the trainer's weights, the encoder product alone and the fused encoder over one normalised batch.
/// The warm-up matters: the sparse passes cost O(L0·d) per token, and L0 moves while a trainer warms
/// up. From the default edge bias start it rises from below one entry per token and settles near 0.03%
/// of M at d=768, M=16384 on the paper's model; from the quantile start (the biasInit argument)
/// every neuron first fires at its group's target frequency, about 2.5% of M with the default TAFs,
/// which is the early, high-L0 state the sparse passes are measured in.
/// </summary>
internal sealed unsafe class StepFixture : IDisposable
{
    /// <summary>Steps of warm-up by default: past the transient of L0 at the benchmark shape.</summary>
    public const int DefaultWarmSteps = 64;

    public StepFixture(TrainingMethod method, int batch, int d, int m, int threads, int k, int warmSteps = DefaultWarmSteps,
        BiasInitialization biasInit = BiasInitialization.Edge)
    {
        (Batch, Dim, Neurons) = (batch, d, m);
        Spec = new SyntheticSpec(Features: 4 * d, Dim: d, Sparsity: 16);
        var tokens = new float[(long)batch * 8 * d];
        using (var gen = new SyntheticModel(Spec, 7).OpenStream(0)) gen.NextBatch(tokens, batch * 8);
        Stream = new MemoryTokenStream(tokens, d);
        Options = new TrainerOptions
        {
            Method = method, Neurons = m, BatchSize = batch, Threads = threads, K = k, EvalEvery = 0,
            Tokens = (long)batch * 1_000_000, BiasInit = biasInit,
        };
        Trainer = new SaeTrainer(Options, d);
        Trainer.Initialize(Stream);
        // Warm-up: JIT, buffer growth, at least one GBA bias update, and by default the L0 transient.
        WarmSteps = (int)Math.Max(warmSteps, Math.Max(3, Options.BufferTokens / batch + 1));
        for (int s = 0; s < WarmSteps; s++)
        {
            double l0 = Trainer.TrainStep(Stream).L0;
            if (s == 0) FirstL0 = l0;
            WarmL0 = l0;
        }

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
    public int WarmSteps { get; }
    /// <summary>Batch L0 of the first warm-up step and of the last.</summary>
    public double FirstL0 { get; }
    public double WarmL0 { get; }
    public int Dim { get; }
    public int Neurons { get; }
    public SyntheticSpec Spec { get; }
    public TrainerOptions Options { get; }
    public MemoryTokenStream Stream { get; }
    public SaeTrainer Trainer { get; }
    public string KernelName => _gemm.Kernels.ToString();
    /// <summary>The normalised batch, its centred copy and its code from the last <see cref="FusedEncode"/>.</summary>
    public AlignedArray Input => _x;
    public AlignedArray Centred => _encoder.Xc;
    public SparseCode Code => _code;
    public WorkerPool Pool => _pool;

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
