// BenchmarkDotNet view of a training step at the shape (default 4096x768x16384, GBA,
// 2 threads; GBA_STEP_SHAPES overrides): the encoder's dense product alone (the baseline, so the
// Ratio column reads "product time / step time" inverted: step/product), the fused encoder, and a
// whole step. The memory diagnoser's Allocated column is the "0 B per step" check.
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using GbaEngine.Benchmarks.Gemm;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

[Config(typeof(GemmBenchmarkConfig))]
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    public static IEnumerable<string> Shapes() =>
        (Environment.GetEnvironmentVariable("GBA_STEP_SHAPES") ?? "4096x768x16384").Split(',', StringSplitOptions.RemoveEmptyEntries);

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "4096x768x16384";

    [Params(TrainingMethod.Gba, TrainingMethod.TopK)]
    public TrainingMethod Method { get; set; }

    public int Threads { get; set; } = 2;

    StepFixture _fixture = null!;

    [GlobalSetup]
    public void Setup()
    {
        var (b, d, m) = GemmShape.Parse(Shape);
        _fixture = new StepFixture(Method, b, d, m, Threads, k: 32);
    }

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    [Benchmark(Baseline = true)]
    public void EncoderProduct() => _fixture.Product();

    [Benchmark]
    public void FusedEncoder() => _fixture.FusedEncode();

    [Benchmark]
    public void TrainingStep() => _fixture.Step();
}
