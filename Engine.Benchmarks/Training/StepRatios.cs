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
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

using static BenchmarkSupport;

internal static class StepRatios
{
    public const string Usage = """
        --step-ratios [--d 768] [--neurons 16384] [--batch 4096] [--threads 2] [--method gba|topk|ba] [--k 32]
                      [--rounds 5] [--steps 3] [--warm-steps 64] [--peer tools/bench/pytorch_gba_step.py] [--out file.md]
          Times the encoder product alone, the fused encoder and whole training steps interleaved (and the
          PyTorch peer's dense step when --peer is given); prints markdown (and writes it to --out).
          The trainer first trains --warm-steps steps, past the early transient of L0 (see StepFixture).
        """;

    public static int Run(string[] args)
    {
        int Int(string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int d = Int("--d", 768), m = Int("--neurons", 16384), batch = Int("--batch", 4096), threads = Int("--threads", 2);
        int rounds = Int("--rounds", 5), steps = Int("--steps", 3), k = Int("--k", 32), warm = Int("--warm-steps", StepFixture.DefaultWarmSteps);
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

        using var fx = new StepFixture(method, batch, d, m, threads, k, warm);
        var (spec, options, trainer) = (fx.Spec, fx.Options, fx.Trainer);

        Emit($"## Training step at d={d}, M={m}, batch {batch}, {threads} thread(s), {method} ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        Emit("");
        Emit($"- CPU: {CpuModel()} ({Environment.ProcessorCount} logical cores); .NET {RuntimeInformation.FrameworkDescription}; kernels {fx.KernelName}");
        Emit($"- Data: the paper's synthetic model (n = {spec.Features}, s = {spec.Sparsity}), {8 * batch} tokens replayed from memory; trainer defaults otherwise ({DescribeMethod(options)}).");
        Emit($"- Warm-up: {fx.WarmSteps} training steps before timing; batch L0 {fx.FirstL0:F1} at the first, {fx.WarmL0:F1} ({100 * fx.WarmL0 / m:F2}% of M) at the last.");
        Emit($"- Per round: one untimed product, then product, fused encoder and training step alternating, {steps} samples each (medians within the round){(peer is null ? "" : ", then the PyTorch peer (1 timed step)")}; {rounds} rounds; command: `Engine.Benchmarks --step-ratios {string.Join(' ', args)}`");
        Emit("");

        var product = new List<double>();
        var fused = new List<double>();
        var step = new List<double>();
        var torch = new List<double>();
        double l0 = 0;
        trainer.Profile.Reset();
        var rounds_ = new List<string>();
        for (int r = 0; r < rounds; r++)
        {
            // Untimed first: the caches and frequency after the peer's process are no one's to pay for.
            fx.Product();
            // Contenders alternate sample by sample (A B C A B C ...), so a drift in the machine's speed
            // within the round reaches each of them alike.
            var (tp, tf, ts) = (new double[steps], new double[steps], new double[steps]);
            for (int i = 0; i < steps; i++)
            {
                tp[i] = Seconds(fx.Product);
                tf[i] = Seconds(fx.FusedEncode);
                ts[i] = Seconds(() => l0 = fx.Step());
            }
            product.Add(Median(tp));
            fused.Add(Median(tf));
            step.Add(Median(ts));
            if (peer is not null) torch.Add(Peer(peer, d, m, batch, threads));
            rounds_.Add($"round {r + 1}/{rounds}: product {batch / product[^1]:F0} tok/s, fused {batch / fused[^1]:F0}, step {batch / step[^1]:F0}{(torch.Count > 0 ? $", PyTorch {batch / torch[^1]:F0}" : "")}");
            Console.Error.WriteLine(rounds_[^1]);
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
        Emit($"Batch L0 of the last timed step: {l0:F1} of {m} ({100 * l0 / m:F2}%). Step time by phase: {trainer.Profile}.");
        Emit("");
        Emit("Rounds (medians within each):");
        Emit("");
        foreach (var line in rounds_) Emit($"- {line}");
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

    static double Seconds(Action a)
    {
        long t0 = Stopwatch.GetTimestamp();
        a();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
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
