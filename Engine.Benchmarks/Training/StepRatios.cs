// The side-by-side training-step runner (`Engine.Benchmarks --step-ratios`). Per round, on the same
// trainer, weights and batch: the encoder's dense product alone (SGEMM with a no-op epilogue: no C
// stored, the strictest yardstick), the fused encoder (product + gate + statistics + sparse code),
// whole training steps, and optionally the PyTorch peer's dense step as a subprocess at the same
// shape and thread count. Ratios are medians of per-round ratios, so a noisy neighbour that slows
// one round slows every contender in it alike.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Threading;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

using static BenchmarkSupport;

internal static unsafe class StepRatios
{
    public const string Usage = """
        --step-ratios [--d 768] [--neurons 16384] [--batch 4096] [--threads 2] [--method gba|topk|ba] [--k 32]
                      [--rounds 5] [--steps 3] [--peer tools/bench/pytorch_gba_step.py] [--out file.md]
          Times the encoder product alone, the fused encoder and whole training steps interleaved (and the
          PyTorch peer's dense step when --peer is given); prints markdown (and writes it to --out).
        """;

    public static int Run(string[] args)
    {
        int Int(string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int d = Int("--d", 768), m = Int("--neurons", 16384), batch = Int("--batch", 4096), threads = Int("--threads", 2);
        int rounds = Int("--rounds", 5), steps = Int("--steps", 3), k = Int("--k", 32);
        var method = (Value(args, "--method") ?? "gba") switch
        {
            "gba" => TrainingMethod.Gba,
            "ba" => TrainingMethod.Ba,
            "topk" => TrainingMethod.TopK,
            var other => throw new ArgumentException($"--method {other}: expected gba, ba or topk"),
        };
        string? peer = Value(args, "--peer");

        var sb = new StringBuilder();
        void Emit(string line)
        {
            Console.WriteLine(line);
            sb.AppendLine(line);
        }

        // Data: the paper's model at this width, generated once and replayed, so no round times generation.
        var spec = new SyntheticSpec(Features: 4 * d, Dim: d, Sparsity: 16);
        var tokens = new float[(long)batch * 8 * d];
        using (var gen = new SyntheticModel(spec, 7).OpenStream(0)) gen.NextBatch(tokens, batch * 8);
        var stream = new MemoryTokenStream(tokens, d);

        var options = new TrainerOptions
        {
            Method = method, Neurons = m, BatchSize = batch, Threads = threads, K = k, EvalEvery = 0,
            Tokens = (long)batch * 1_000_000,
        };
        using var trainer = new SaeTrainer(options, d);
        trainer.Initialize(stream);
        // Warm-up: JIT, buffer growth, and at least one GBA bias update so the biases are past their start.
        long warmSteps = Math.Max(3, options.BufferTokens / batch + 1);
        for (long s = 0; s < warmSteps; s++) trainer.TrainStep(stream);

        var p = trainer.Model.Parameters;
        int stride = p.Stride;
        using var pool = new WorkerPool(threads);
        using var gemm = new SgemmContext(pool);
        using var encoder = new BatchEncoder(trainer.Model.Architecture, p, batch, pool);
        var x = new AlignedArray((long)batch * stride);
        trainer.Model.NormalizeBatch(tokens.AsSpan(0, batch * d), batch, x.Span, new float[batch]);
        var code = new SparseCode();
        var stats = new FiringStatistics(m);
        encoder.Encode(x, batch, code, stats);

        Emit($"## Training step at d={d}, M={m}, batch {batch}, {threads} thread(s), {method} ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        Emit("");
        Emit($"- CPU: {CpuModel()} ({Environment.ProcessorCount} logical cores); .NET {RuntimeInformation.FrameworkDescription}; kernels {gemm.Kernels}");
        Emit($"- Data: the paper's synthetic model (n = {spec.Features}, s = {spec.Sparsity}), {tokens.Length / d} tokens replayed from memory; trainer defaults otherwise ({DescribeMethod(options)}).");
        Emit($"- Per round: product x{steps}, fused encoder x{steps}, training step x{steps} (medians within the round){(peer is null ? "" : ", then the PyTorch peer (1 timed step)")}; {rounds} rounds; command: `Engine.Benchmarks --step-ratios {string.Join(' ', args)}`");
        Emit("");

        var product = new List<double>();
        var fused = new List<double>();
        var step = new List<double>();
        var torch = new List<double>();
        double l0 = 0;
        trainer.Profile.Reset();
        for (int r = 0; r < rounds; r++)
        {
            product.Add(Time(steps, () => gemm.MultiplyFused(GemmTranspose.NoTranspose, GemmTranspose.Transpose, batch, m, d, 1f,
                encoder.Xc.Pointer, stride, p.Data.Pointer + p.EncoderOffset, stride, default(StoreEpilogue))));
            fused.Add(Time(steps, () => encoder.Encode(x, batch, code, stats)));
            step.Add(Time(steps, () => l0 = trainer.TrainStep(stream).L0));
            if (peer is not null) torch.Add(Peer(peer, d, m, batch, threads));
            Console.Error.WriteLine($"round {r + 1}/{rounds}: product {batch / product[^1]:F0} tok/s, fused {batch / fused[^1]:F0}, step {batch / step[^1]:F0}{(torch.Count > 0 ? $", PyTorch {batch / torch[^1]:F0}" : "")}");
        }

        double Tps(List<double> seconds) => batch / Median(seconds);
        double flop = 2.0 * d * m * batch;
        Emit("| contender | tokens/s (median) | GFLOP/s of the product | vs product alone (median of round ratios) |");
        Emit("|---|---:|---:|---:|");
        Emit($"| encoder product alone (SGEMM, no C stored) | {Tps(product):F0} | {flop / Median(product) / 1e9:F1} | 1.000 |");
        Emit($"| fused encoder (product + gate + stats + sparse code) | {Tps(fused):F0} | {flop / Median(fused) / 1e9:F1} | {Median(product.Zip(fused, (a, b) => a / b)):F3} |");
        Emit($"| **GbaEngine training step** | **{Tps(step):F0}** | {flop / Median(step) / 1e9:F1} | **{Median(product.Zip(step, (a, b) => a / b)):F3}** |");
        if (torch.Count > 0)
            Emit($"| PyTorch dense step (peer) | {Tps(torch):F0} | {flop / Median(torch) / 1e9:F1} | {Median(product.Zip(torch, (a, b) => a / b)):F3} |");
        Emit("");
        if (torch.Count > 0)
            Emit($"**Ours / PyTorch: {Median(torch.Zip(step, (t, s) => t / s)):F2}x** (median of per-round ratios).");
        Emit($"Batch L0 at the end: {l0:F1} of {m} ({100 * l0 / m:F2}%). Step time by phase: {trainer.Profile}.");
        Emit("");

        if (Value(args, "--out") is { } outPath) File.WriteAllText(outPath, sb.ToString());
        return 0;
    }

    static string DescribeMethod(TrainerOptions o) => o.Method switch
    {
        TrainingMethod.Gba => $"GBA, {o.Groups} groups, TAF {o.Htf} to {o.Ltf}",
        TrainingMethod.Ba => $"BA, p = {o.Taf}",
        _ => $"TopK, k = {o.K}",
    };

    /// <summary>Median seconds of <paramref name="n"/> calls.</summary>
    static double Time(int n, Action a)
    {
        var t = new double[n];
        for (int i = 0; i < n; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a();
            t[i] = Stopwatch.GetElapsedTime(t0).TotalSeconds;
        }
        return Median(t);
    }

    /// <summary>One timed dense step of the PyTorch peer (after its own warm-up step), in seconds.</summary>
    static double Peer(string script, int d, int m, int batch, int threads)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in new[] { script, "--threads", $"{threads}", "--d", $"{d}", "--neurons", $"{m}", "--batch", $"{batch}", "--steps", "1" })
            psi.ArgumentList.Add(a);
        psi.Environment["OPENBLAS_CORETYPE"] = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "SkylakeX";
        using var proc = Process.Start(psi) ?? throw new InvalidOperationException("could not start python3");
        string stdout = proc.StandardOutput.ReadToEnd();
        string stderr = proc.StandardError.ReadToEnd();
        proc.WaitForExit();
        if (proc.ExitCode != 0) throw new InvalidOperationException($"PyTorch peer failed ({proc.ExitCode}): {stderr.Trim()}");
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        return json.RootElement.GetProperty("step_seconds_median").GetDouble();
    }
}
