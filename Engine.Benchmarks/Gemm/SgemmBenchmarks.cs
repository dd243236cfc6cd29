// BenchmarkDotNet view of the SGEMM at SAE encoder shapes, Z[B x M] = X[B x d] * W[M x d]^T:
// our kernel sets against OpenBLAS (the baseline, so the Ratio column is ours/OpenBLAS), with a
// GFLOP/s column. Shapes come from GBA_GEMM_SHAPES ("BxDxM,BxDxM", default 4096x768x16384) because
// the full 9-shape grid takes long under BenchmarkDotNet here; GemmRatios (--ratios) covers the grid.
// OpenBLAS needs OPENBLAS_CORETYPE=SkylakeX in the environment on this machine (see OpenBlas.cs).
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;

namespace GbaEngine.Benchmarks.Gemm;

[Config(typeof(GemmBenchmarkConfig))]
public unsafe class SgemmBenchmarks
{
    public static IEnumerable<string> Shapes() =>
        (Environment.GetEnvironmentVariable("GBA_GEMM_SHAPES") ?? "4096x768x16384").Split(',', StringSplitOptions.RemoveEmptyEntries);

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "4096x768x16384";

    [Params(1, 2)]
    public int Threads { get; set; }

    int _b, _d, _m;
    AlignedArray _x = null!, _w = null!, _z = null!;
    SgemmContext? _avx512, _avx2;

    [GlobalSetup]
    public void Setup()
    {
        (_b, _d, _m) = GemmShape.Parse(Shape);
        _x = GemmShape.Random((long)_b * _d, 1);
        _w = GemmShape.Random((long)_m * _d, 2);
        _z = new AlignedArray((long)_b * _m);
        if (KernelSelector.IsSupported(KernelSet.Avx512)) _avx512 = new SgemmContext(Threads, KernelSet.Avx512);
        if (KernelSelector.IsSupported(KernelSet.Avx2)) _avx2 = new SgemmContext(Threads, KernelSet.Avx2);
        if (OpenBlas.Available) OpenBlas.SetThreads(Threads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _avx512?.Dispose();
        _avx2?.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void OpenBlasSgemm()
    {
        if (!OpenBlas.Available) throw new InvalidOperationException("OpenBLAS is not installed (apt-get install libopenblas0-pthread).");
        OpenBlas.Sgemm(false, true, _b, _m, _d, 1f, _x.Pointer, _d, _w.Pointer, _d, 0f, _z.Pointer, _m);
    }

    [Benchmark]
    public void OursAvx512() => Ours(_avx512 ?? throw new PlatformNotSupportedException("AVX-512"));

    [Benchmark]
    public void OursAvx2() => Ours(_avx2 ?? throw new PlatformNotSupportedException("AVX2"));

    void Ours(SgemmContext ctx) =>
        ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, _b, _m, _d, 1f, _x.Pointer, _d, _w.Pointer, _d, 0f, _z.Pointer, _m);
}

/// <summary>The scalar reference kernel at one small shape (it is about 50x slower).</summary>
[Config(typeof(GemmBenchmarkConfig))]
public unsafe class SgemmScalarBenchmarks
{
    public string Shape { get; set; } = "256x256x1024";

    AlignedArray _x = null!, _w = null!, _z = null!;
    SgemmContext _ctx = null!;

    [GlobalSetup]
    public void Setup()
    {
        _x = GemmShape.Random(256 * 256, 1);
        _w = GemmShape.Random(1024 * 256, 2);
        _z = new AlignedArray(256 * 1024);
        _ctx = new SgemmContext(1, KernelSet.Scalar);
    }

    [GlobalCleanup]
    public void Cleanup() => _ctx.Dispose();

    [Benchmark]
    public void OursScalar() =>
        _ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, 256, 1024, 256, 1f, _x.Pointer, 256, _w.Pointer, 256, 0f, _z.Pointer, 1024);
}

internal static class GemmShape
{
    /// <summary>"BxDxM" (batch, input width, neurons) -> GEMM m = B, k = d, n = M.</summary>
    public static (int B, int D, int M) Parse(string s)
    {
        var p = s.Split('x');
        if (p.Length != 3) throw new ArgumentException($"Shape '{s}': expected BxDxM, e.g. 4096x768x16384.");
        return (int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(p[2], System.Globalization.CultureInfo.InvariantCulture));
    }

    public static AlignedArray Random(long length, ulong seed)
    {
        var a = new AlignedArray(length);
        var rng = new Rng.Xoshiro256(seed);
        var s = a.Span;
        for (int i = 0; i < s.Length; i++) s[i] = (float)((rng.NextUInt64() >> 40) * (1.0 / (1 << 24)) * 2 - 1);
        return a;
    }
}

/// <summary>In-process toolchain (BenchmarkDotNet 0.14 predates net10.0's out-of-process templates),
/// few iterations (one product takes 0.1-5 s), and a GFLOP/s column.</summary>
public sealed class GemmBenchmarkConfig : ManualConfig
{
    public GemmBenchmarkConfig()
    {
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(1).WithIterationCount(5).WithInvocationCount(1).WithUnrollFactor(1));
        AddColumn(new GflopsColumn());
    }
}

/// <summary>2 B d M / mean time, from the Shape parameter.</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "2 B d M floating-point operations per second, from the mean time";
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        var shape = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Shape")?.Value as string;
        if (stats is null) return "-";
        var (b, d, m) = GemmShape.Parse(shape ?? "256x256x1024");
        return (2.0 * b * d * m / stats.Mean).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
    }
}
