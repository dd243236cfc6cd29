using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Streams;

namespace GbaEngine.Benchmarks;

/// <summary>
/// fp32 throughput of the activation loader against the ceiling it cannot beat: a plain sequential
/// FileStream read of the same f32 file from the page cache. Each operation delivers one epoch,
/// 65536 x 1024 fp32 = 256 MiB, from f32, f16 and bf16 sources (f16/bf16 files are half the bytes
/// but must be converted), in file order and shuffled. In-process toolchain: BenchmarkDotNet 0.14
/// does not know the net10.0 moniker.
/// dotnet run -c Release --project Engine.Benchmarks -- --filter '*LoaderBenchmarks*'
/// </summary>
[Config(typeof(LoaderConfig))]
public class LoaderBenchmarks
{
    const int Rows = 65536, Dim = 1024, BatchRows = 1024;
    public const long DeliveredBytes = (long)Rows * Dim * sizeof(float);

    string _dir = "";
    string _f32Path = "";
    ActivationDataset _f32 = null!, _f16 = null!, _bf16 = null!;
    ActivationStream _f32Stream = null!, _f16Stream = null!, _bf16Stream = null!, _shuffledStream = null!;
    readonly float[] _batch = new float[BatchRows * Dim];
    readonly byte[] _readBuffer = new byte[1 << 20];

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("gba-loader-bench-").FullName;
        var raw32 = new byte[DeliveredBytes];
        var raw16 = new byte[DeliveredBytes / 2];
        var rng = new Random(1);
        var values = new float[Dim];
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Dim; c++) values[c] = (float)(rng.NextDouble() * 4 - 2);
            Buffer.BlockCopy(values, 0, raw32, r * Dim * 4, Dim * 4);
            for (int c = 0; c < Dim; c++)
                BitConverter.TryWriteBytes(raw16.AsSpan((r * Dim + c) * 2), BitConverter.HalfToUInt16Bits((Half)values[c]));
        }
        _f32Path = Path.Combine(_dir, "acts.f32");
        File.WriteAllBytes(_f32Path, raw32);
        File.WriteAllBytes(Path.Combine(_dir, "acts.f16"), raw16);
        File.WriteAllBytes(Path.Combine(_dir, "acts.bf16"), raw16); // any bit pattern is a bf16 value; finiteness is what matters
        _f32 = ActivationDataset.Open(_f32Path, new LoaderOptions { RawDType = ActivationDType.F32, RawDim = Dim });
        _f16 = ActivationDataset.Open(Path.Combine(_dir, "acts.f16"), new LoaderOptions { RawDType = ActivationDType.F16, RawDim = Dim });
        _bf16 = ActivationDataset.Open(Path.Combine(_dir, "acts.bf16"), new LoaderOptions { RawDType = ActivationDType.BF16, RawDim = Dim });
        var inOrder = new StreamOptions { Shuffle = false };
        _f32Stream = _f32.OpenStream(1, 0, inOrder);
        _f16Stream = _f16.OpenStream(1, 0, inOrder);
        _bf16Stream = _bf16.OpenStream(1, 0, inOrder);
        _shuffledStream = _f32.OpenStream(1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _f32.Dispose();
        _f16.Dispose();
        _bf16.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "FileStream read f32 (page cache)")]
    public long FileStreamRead()
    {
        using var file = new FileStream(_f32Path, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
        long total = 0;
        int n;
        while ((n = file.Read(_readBuffer)) > 0) total += n;
        return total;
    }

    [Benchmark(Description = "loader f32, file order")]
    public float LoaderF32() => Epoch(_f32Stream);

    [Benchmark(Description = "loader f16, file order")]
    public float LoaderF16() => Epoch(_f16Stream);

    [Benchmark(Description = "loader bf16, file order")]
    public float LoaderBF16() => Epoch(_bf16Stream);

    [Benchmark(Description = "loader f32, shuffled")]
    public float LoaderF32Shuffled() => Epoch(_shuffledStream);

    float Epoch(ActivationStream stream)
    {
        for (int done = 0; done < Rows; done += BatchRows) stream.NextBatch(_batch, BatchRows);
        return _batch[^1];
    }

    sealed class LoaderConfig : ManualConfig
    {
        public LoaderConfig()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(2).WithIterationCount(10).WithLaunchCount(1));
            AddColumn(new ThroughputColumn());
            AddDiagnoser(MemoryDiagnoser.Default);
        }
    }

    /// <summary>fp32 bytes delivered per second: every benchmark here moves <see cref="DeliveredBytes"/> per operation.</summary>
    sealed class ThroughputColumn : IColumn
    {
        public string Id => nameof(ThroughputColumn);
        public string ColumnName => "fp32 GB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "fp32 bytes delivered per second (1 GB = 1e9 bytes)";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            summary[benchmarkCase]?.ResultStatistics is { } s ? (DeliveredBytes / s.Mean).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : "-";
    }
}
