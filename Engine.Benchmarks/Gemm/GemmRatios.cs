// The side-by-side SGEMM runner (`Engine.Benchmarks --ratios`): times our SGEMM per kernel set,
// OpenBLAS cblas_sgemm and the FMA peak probe interleaved, round by round, on the same buffers and
// thread count, and reports medians. Interleaving matters on this shared 2-core machine: a noisy
// neighbour slows every contender of a round alike, so per-round ratios are far steadier than
// separate runs. Shapes are the SAE encoder product Z[B x M] = X[B x d] * W[M x d]^T
// (GEMM m = B, n = M, k = d; both operands k-contiguous).
// Two clocks: wall time (the headline) and process CPU time, reported as "GFLOP per CPU-second x
// threads", which discounts the time our threads were descheduled by other tenants (it does not
// discount shared-cache or memory-bandwidth interference, and OpenBLAS's spinning workers count).
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;

namespace GbaEngine.Benchmarks.Gemm;

using static BenchmarkSupport;

internal static unsafe class GemmRatios
{
    sealed record Options(List<(int B, int D, int M)> Shapes, List<int> Threads, List<KernelSet> Kernels,
        int Rounds, string? Out, bool Quick, string? JsonOut);

    /// <summary>One row of the table, for --json-out (medians; ratios are medians of per-round ratios).</summary>
    internal sealed record Row(int Threads, int B, int D, int M, string Kernel, double OursGflops, double? OpenBlasGflops,
        double PeakGflops, double? OursOverOpenBlas, double OursOverPeak, double BestOverBestPeak,
        double? OursOverOpenBlasCpu, double OursOverPeakCpu);

    public const string Usage = """
        --ratios [--quick] [--shapes BxDxM,...] [--threads 1,2] [--kernels avx512,avx2] [--rounds N] [--out file.md] [--json-out file.json]
          Times ours vs OpenBLAS vs the FMA peak interleaved; prints markdown (and writes it to --out, the rows to --json-out).
          Default shapes: B=4096 x d in {512,768,1536} x M in {4096,16384,65536}; --quick: 4096x768x16384 only, 3 rounds.
        """;

    public static int Run(string[] args)
    {
        var o = Parse(args);
        var sb = new StringBuilder();
        void Emit(string line)
        {
            Console.WriteLine(line);
            sb.AppendLine(line);
        }

        var blas = OpenBlas.Available;
        var rows = new List<Row>();
        Emit($"## SGEMM: ours vs OpenBLAS vs FMA peak ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        Emit("");
        Emit($"- CPU: {CpuModel()} ({Environment.ProcessorCount} logical cores)");
        Emit($"- .NET: {RuntimeInformation.FrameworkDescription}, kernel sets supported: {string.Join(", ", KernelSelector.Supported)}");
        Emit(blas
            ? $"- OpenBLAS: {OpenBlas.Path}, core {OpenBlas.CoreName} (OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "unset"}), config: {OpenBlas.Config.Trim()}"
            : "- OpenBLAS: not found (install libopenblas0-pthread); its columns are empty");
        Emit($"- Rounds: {o.Rounds} (medians; ratios are medians of per-round ratios; \"best ours/best peak\" compares our fastest round with the fastest FMA probe seen so far at that thread count, since contention only ever lowers a rate); command: `Engine.Benchmarks --ratios {string.Join(' ', args)}`");
        Emit("");

        long maxX = o.Shapes.Max(s => (long)s.B * s.D), maxW = o.Shapes.Max(s => (long)s.M * s.D), maxC = o.Shapes.Max(s => (long)s.B * s.M);
        var x = GemmShape.Random(maxX, 1);
        var w = GemmShape.Random(maxW, 2);
        var c = new AlignedArray(maxC);
        var cRef = blas ? new AlignedArray(maxC) : null;

        foreach (var threads in o.Threads)
        {
            if (blas) OpenBlas.SetThreads(threads);
            var contexts = o.Kernels.Select(k => new SgemmContext(threads, k)).ToArray();
            var peak512 = new List<Rate>();
            var peak256 = new List<Rate>();
            // Calibration: the peak is a machine constant and contention only lowers a probe, so the
            // best ever seen (5 probes now, then every round's) is the strict yardstick.
            for (int r = 0; r < 5; r++) peak512.Add(Peak(512, threads, 0.15));
            Emit($"### {threads} thread{(threads > 1 ? "s" : "")}");
            Emit("");
            Emit("| B x d x M | kernel | ours GFLOP/s | OpenBLAS GFLOP/s | FMA peak GFLOP/s | ours/OpenBLAS | ours/peak | best ours/best peak | ours/OpenBLAS (CPU time) | ours/peak (CPU time) | max rel diff |");
            Emit("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (b, d, m) in o.Shapes)
            {
                double flop = 2.0 * b * d * m;
                var ours = contexts.Select(_ => new List<Rate>()).ToArray();
                var theirs = new List<Rate>();
                var peaks = new List<Rate>();
                // Warm-up: JIT, buffer growth, page faults on C.
                foreach (var ctx in contexts) Ours(ctx, b, d, m, x, w, c);
                if (blas) Theirs(b, d, m, x, w, cRef!);
                for (int r = 0; r < o.Rounds; r++)
                {
                    for (int i = 0; i < contexts.Length; i++) ours[i].Add(Measure(flop, threads, () => Ours(contexts[i], b, d, m, x, w, c)));
                    if (blas) theirs.Add(Measure(flop, threads, () => Theirs(b, d, m, x, w, cRef!)));
                    var p = Peak(512, threads, 0.15);
                    peaks.Add(p);
                    peak512.Add(p);
                    peak256.Add(Peak(256, threads, 0.1));
                }
                for (int i = 0; i < contexts.Length; i++)
                {
                    // Same inputs: ours and OpenBLAS must agree to float accuracy (sanity, not a test).
                    Ours(contexts[i], b, d, m, x, w, c);
                    var diff = blas ? MaxRelDiff(c, cRef!, (long)b * m) : double.NaN;
                    var ratioBlas = blas ? Median(ours[i].Zip(theirs, (u, t) => u.Wall / t.Wall)) : double.NaN;
                    var ratioPeak = Median(ours[i].Zip(peaks, (u, p) => u.Wall / p.Wall));
                    var cpuBlas = blas ? Median(ours[i].Zip(theirs, (u, t) => u.Cpu / t.Cpu)) : double.NaN;
                    var cpuPeak = Median(ours[i].Zip(peaks, (u, p) => u.Cpu / p.Cpu));
                    rows.Add(new Row(threads, b, d, m, contexts[i].Kernels.ToString().ToLowerInvariant(), Median(ours[i].Select(r => r.Wall)),
                        blas ? Median(theirs.Select(r => r.Wall)) : null, Median(peaks.Select(r => r.Wall)), blas ? ratioBlas : null, ratioPeak,
                        ours[i].Max(r => r.Wall) / peak512.Max(r => r.Wall), blas ? cpuBlas : null, cpuPeak));
                    Emit($"| {b} x {d} x {m} | {contexts[i].Kernels} | {Median(ours[i].Select(r => r.Wall)):F1} | {F(Median(theirs.Select(r => r.Wall)))} | {Median(peaks.Select(r => r.Wall)):F1} | {F(ratioBlas, "F3")} | {ratioPeak:F3} | {ours[i].Max(r => r.Wall) / peak512.Max(r => r.Wall):F3} | {F(cpuBlas, "F3")} | {cpuPeak:F3} | {F(diff, "E1")} |");
                }
            }
            Emit("");
            Emit($"FMA probe, {threads} thread(s), median of {peak512.Count}: Vector512 {Median(peak512.Select(r => r.Wall)):F1} GFLOP/s " +
                 $"(best {peak512.Max(r => r.Wall):F1}, CPU time {Median(peak512.Select(r => r.Cpu)):F1}), Vector256 {Median(peak256.Select(r => r.Wall)):F1} GFLOP/s.");
            Emit("");
            foreach (var ctx in contexts) ctx.Dispose();
        }

        if (o.Kernels.Count > 0 && !o.Quick)
        {
            // The scalar reference at one small shape only (it is ~100x slower).
            using var scalar = new SgemmContext(1, KernelSet.Scalar);
            var s = new List<double>();
            Ours(scalar, 256, 256, 1024, x, w, c);
            for (int r = 0; r < 3; r++) s.Add(Measure(2.0 * 256 * 256 * 1024, 1, () => Ours(scalar, 256, 256, 1024, x, w, c)).Wall);
            Emit($"Scalar reference kernel, 1 thread, 256 x 256 x 1024: {Median(s):F2} GFLOP/s.");
            Emit("");
        }

        if (o.JsonOut is { } jsonPath)
        {
            var json = new
            {
                openblas = blas ? new { path = OpenBlas.Path, core = OpenBlas.CoreName, coretype_env = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") } : null,
                rounds = o.Rounds,
                rows,
            };
            File.WriteAllText(jsonPath, System.Text.Json.JsonSerializer.Serialize(json,
                new System.Text.Json.JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower }));
        }

        if (o.Out is { } path)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            File.WriteAllText(path, sb.ToString());
        }
        return 0;
    }

    static void Ours(SgemmContext ctx, int b, int d, int m, AlignedArray x, AlignedArray w, AlignedArray c) =>
        ctx.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, b, m, d, 1f, x.Pointer, d, w.Pointer, d, 0f, c.Pointer, m);

    static void Theirs(int b, int d, int m, AlignedArray x, AlignedArray w, AlignedArray c) =>
        OpenBlas.Sgemm(false, true, b, m, d, 1f, x.Pointer, d, w.Pointer, d, 0f, c.Pointer, m);

    /// <summary>GFLOP/s by wall time, and GFLOP per process CPU-second x threads.</summary>
    readonly record struct Rate(double Wall, double Cpu);

    static Rate Measure(double flop, int threads, Action a)
    {
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        a();
        var wall = sw.Elapsed.TotalSeconds;
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        return new Rate(flop / wall / 1e9, flop * threads / Math.Max(cpu, 1e-9) / 1e9);
    }

    static Rate Peak(int width, int threads, double seconds)
    {
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var (gflops, wall) = FmaPeak.Measure(width, threads, FmaPeak.IterationsFor(width, seconds));
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        return new Rate(gflops, gflops * wall * threads / Math.Max(cpu, 1e-9));
    }

    static double MaxRelDiff(AlignedArray a, AlignedArray b, long count)
    {
        double max = 0, scale = 0;
        for (long i = 0; i < count; i++)
        {
            max = Math.Max(max, Math.Abs(a[(int)i] - b[(int)i]));
            scale = Math.Max(scale, Math.Abs(b[(int)i]));
        }
        return max / Math.Max(scale, 1e-30);
    }

    static Options Parse(string[] args)
    {
        bool quick = args.Contains("--quick");
        string? Value(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        var shapes = Value("--shapes") is { } s
            ? s.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(GemmShape.Parse).ToList()
            : quick ? [(4096, 768, 16384)]
            : (from d in new[] { 512, 768, 1536 } from m in new[] { 4096, 16384, 65536 } select (4096, d, m)).ToList();
        var threads = Value("--threads") is { } t ? t.Split(',').Select(int.Parse).ToList() : [1, 2];
        var kernels = Value("--kernels") is { } k
            ? k.Split(',').Select(KernelSelector.Parse).ToList()
            : KernelSelector.Supported.Where(x => x != KernelSet.Scalar).Reverse().ToList();
        var rounds = Value("--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : quick ? 3 : 5;
        return new Options(shapes, threads, kernels, rounds, Value("--out"), quick, Value("--json-out"));
    }
}
