// BenchmarkDotNet view of a training step at the shape (default 4096x768x16384, GBA,
// 2 threads; GBA_STEP_SHAPES overrides): the encoder's dense product alone (the baseline, so the
// Ratio column reads "product time / step time" inverted: step/product), the fused encoder, and a
// whole step. The memory diagnoser's Allocated column is the "0 B per step" check.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using GbaEngine.Benchmarks.Gemm;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Threading;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

[Config(typeof(GemmBenchmarkConfig))]
[MemoryDiagnoser]
public unsafe class TrainingStepBenchmarks
{
    public static IEnumerable<string> Shapes() =>
        (Environment.GetEnvironmentVariable("GBA_STEP_SHAPES") ?? "4096x768x16384").Split(',', StringSplitOptions.RemoveEmptyEntries);

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "4096x768x16384";

    [Params(TrainingMethod.Gba, TrainingMethod.TopK)]
    public TrainingMethod Method { get; set; }

    public int Threads { get; set; } = 2;

    SaeTrainer _trainer = null!;
    MemoryTokenStream _stream = null!;
    WorkerPool _pool = null!;
    SgemmContext _gemm = null!;
    BatchEncoder _encoder = null!;
    AlignedArray _x = null!;
    SparseCode _code = null!;
    FiringStatistics _stats = null!;
    int _b, _d, _m;

    [GlobalSetup]
    public void Setup()
    {
        (_b, _d, _m) = GemmShape.Parse(Shape);
        var spec = new SyntheticSpec(Features: 4 * _d, Dim: _d, Sparsity: 16);
        var tokens = new float[(long)_b * 8 * _d];
        using (var gen = new SyntheticModel(spec, 7).OpenStream(0)) gen.NextBatch(tokens, _b * 8);
        _stream = new MemoryTokenStream(tokens, _d);
        var options = new TrainerOptions
        {
            Method = Method, Neurons = _m, BatchSize = _b, Threads = Threads, K = 32, EvalEvery = 0,
            Tokens = (long)_b * 1_000_000,
        };
        _trainer = new SaeTrainer(options, _d);
        _trainer.Initialize(_stream);
        for (long s = 0; s <= options.BufferTokens / _b + 1; s++) _trainer.TrainStep(_stream);

        var p = _trainer.Model.Parameters;
        _pool = new WorkerPool(Threads);
        _gemm = new SgemmContext(_pool);
        _encoder = new BatchEncoder(_trainer.Model.Architecture, p, _b, _pool);
        _x = new AlignedArray((long)_b * p.Stride);
        _trainer.Model.NormalizeBatch(tokens.AsSpan(0, _b * _d), _b, _x.Span, new float[_b]);
        _code = new SparseCode();
        _stats = new FiringStatistics(_m);
        _encoder.Encode(_x, _b, _code, _stats);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _encoder.Dispose();
        _gemm.Dispose();
        _pool.Dispose();
        _trainer.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void EncoderProduct()
    {
        var p = _trainer.Model.Parameters;
        _gemm.MultiplyFused(GemmTranspose.NoTranspose, GemmTranspose.Transpose, _b, _m, _d, 1f,
            _encoder.Xc.Pointer, p.Stride, p.Data.Pointer + p.EncoderOffset, p.Stride, default(StoreEpilogue));
    }

    [Benchmark]
    public void FusedEncoder() => _encoder.Encode(_x, _b, _code, _stats);

    [Benchmark]
    public void TrainingStep() => _trainer.TrainStep(_stream);
}
