// The side-by-side training-step runner (`Engine.Benchmarks --step-ratios`). Per round, on the same
// trainer, weights and batch: the encoder's dense product alone (SGEMM with a no-op epilogue: no C
// stored, the strictest yardstick), the fused encoder (product + gate + statistics + sparse code),
// whole training steps, the FMA peak probe (the machine's limit for a step is peak / 2dM tokens/s),
// and optionally the PyTorch peers as subprocesses at the same shape, thread count and L0: the dense
// step public trainers run and the sparse step a careful CPU user would write. Ratios are medians of
// per-round ratios, so a noisy neighbour that slows one round slows every contender in it alike.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using GbaEngine.Benchmarks.Gemm;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

using static BenchmarkSupport;

internal static class StepRatios
{
    public const string Usage = """
        --step-ratios [--d 768] [--neurons 16384] [--batch 4096] [--threads 2] [--method gba|topk|ba] [--k 32]
                      [--rounds 5] [--steps 3] [--warm-steps 64] [--bias-init edge|quantile]
                      [--peer tools/bench/pytorch_gba_step.py] [--out file.md] [--json-out file.json]
          Times the encoder product alone, the fused encoder, whole training steps and the FMA peak
          interleaved (and the PyTorch peers' dense and sparse steps when --peer is given, after checking
          that they agree); prints markdown (and writes it to --out, the figures to --json-out).
          The trainer first trains --warm-steps steps, past the early transient of L0 (see StepFixture).
          --bias-init quantile starts every neuron at its group's target frequency (L0 about 2.5% of M):
          with few warm-up steps, the early high-L0 state.
        """;

    /// <summary>One round's medians, in seconds per step (the peak probe in GFLOP/s), on the wall clock and
    /// on the CPU clock (process CPU seconds per thread: blind to time neighbours took).</summary>
    internal sealed record Round(double Product, double Fused, double Step, double PeakGflops, double? TorchDense, double? TorchSparse,
        double ProductCpu, double FusedCpu, double StepCpu, double PeakGflopsCpu, double? TorchDenseCpu, double? TorchSparseCpu);

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
        var biasInit = (Value(args, "--bias-init") ?? "edge") switch
        {
            "edge" => BiasInitialization.Edge,
            "quantile" => BiasInitialization.Quantile,
            var other => throw new ArgumentException($"--bias-init {other}: expected edge or quantile"),
        };
        string? peer = Value(args, "--peer");

        var sb = new StringBuilder();
        void Emit(string line)
        {
            Console.WriteLine(line);
            sb.AppendLine(line);
        }

        using var fx = new StepFixture(method, batch, d, m, threads, k, warm, biasInit);
        var (spec, options, trainer) = (fx.Spec, fx.Options, fx.Trainer);
        double l0Fraction = fx.WarmL0 / m;
        string? check = peer is null ? null : PeerCheck(peer, d, m, threads, l0Fraction);

        Emit($"## Training step at d={d}, M={m}, batch {batch}, {threads} thread(s), {method} ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        Emit("");
        Emit($"- CPU: {CpuModel()} ({Environment.ProcessorCount} logical cores); .NET {RuntimeInformation.FrameworkDescription}; kernels {fx.KernelName}");
        Emit($"- Data: the paper's synthetic model (n = {spec.Features}, s = {spec.Sparsity}), {8 * batch} tokens replayed from memory; trainer defaults otherwise ({DescribeMethod(options)}).");
        Emit($"- Warm-up: {fx.WarmSteps} training steps from the {biasInit.ToString().ToLowerInvariant()} bias start before timing; batch L0 {fx.FirstL0:F1} at the first, {fx.WarmL0:F1} ({100 * l0Fraction:F2}% of M) at the last.");
        Emit($"- Per round: one untimed product, then product, fused encoder and training step alternating, {steps} samples each (medians within the round), an FMA peak probe{(peer is null ? "" : ", then the PyTorch peers (dense, then sparse: 1 timed step each after 1 untimed, their bias set so that the same share of pre-activations fires)")}; {rounds} rounds; command: `Engine.Benchmarks --step-ratios {string.Join(' ', args)}`");
        if (check is not null) Emit($"- Peer check (`--mode check`, batch 512): the sparse peer gives the dense peer's L0s, and losses and gradients within rounding of the magnitude of their terms, over 3 steps: {check}");
        Emit("");

        var all = new List<Round>();
        double l0 = 0;
        trainer.Profile.Reset();
        var roundLines = new List<string>();
        for (int r = 0; r < rounds; r++)
        {
            // Untimed first: the caches and frequency after the peer's process are no one's to pay for.
            fx.Product();
            // Contenders alternate sample by sample (A B C A B C ...), so a drift in the machine's speed
            // within the round reaches each of them alike.
            var (tp, tf, ts) = (new (double, double)[steps], new (double, double)[steps], new (double, double)[steps]);
            for (int i = 0; i < steps; i++)
            {
                tp[i] = Seconds(fx.Product, threads);
                tf[i] = Seconds(fx.FusedEncode, threads);
                ts[i] = Seconds(() => l0 = fx.Step(), threads);
            }
            var cpu0 = Environment.CpuUsage.TotalTime;
            var (peak, peakSeconds) = FmaPeak.Measure(512, threads, FmaPeak.IterationsFor(512, 0.15));
            double peakCpu = peak * peakSeconds / ((Environment.CpuUsage.TotalTime - cpu0).TotalSeconds / threads);
            (double Wall, double Cpu)? dense = null, sparse = null;
            if (peer is not null)
            {
                dense = Peer(peer, "dense", d, m, batch, threads, l0Fraction);
                sparse = Peer(peer, "sparse", d, m, batch, threads, l0Fraction);
            }
            all.Add(new Round(Median(tp.Select(t => t.Item1)), Median(tf.Select(t => t.Item1)), Median(ts.Select(t => t.Item1)), peak, dense?.Wall, sparse?.Wall,
                Median(tp.Select(t => t.Item2)), Median(tf.Select(t => t.Item2)), Median(ts.Select(t => t.Item2)), peakCpu, dense?.Cpu, sparse?.Cpu));
            var last = all[^1];
            roundLines.Add($"round {r + 1}/{rounds}: product {batch / last.Product:F0} tok/s, fused {batch / last.Fused:F0}, step {batch / last.Step:F0}, FMA peak {peak:F0} GFLOP/s" +
                (dense is null ? "" : $", PyTorch dense {batch / dense.Value.Wall:F0}, sparse {batch / sparse!.Value.Wall:F0}") +
                $" (CPU clock: step {batch / last.StepCpu:F0} tok/s, peak {last.PeakGflopsCpu:F0} GFLOP/s)");
            Console.Error.WriteLine(roundLines[^1]);
        }

        double flop = 2.0 * d * m * batch;
        double Tps(Func<Round, double> seconds) => batch / Median(all.Select(seconds));
        double RatioToProduct(Func<Round, double> seconds) => Median(all.Select(x => x.Product / seconds(x)));
        // The limit: every FLOP of a step is the product's 2dM per token at the FMA peak.
        double StepOverLimit(Round x) => batch / x.Step / (x.PeakGflops * 1e9 / (2.0 * d * m));
        Emit("| contender | tokens/s (median) | GFLOP/s of the product | vs product alone (median of round ratios) |");
        Emit("|---|---:|---:|---:|");
        Emit($"| machine limit (FMA peak / 2dM) | {Median(all.Select(x => x.PeakGflops * 1e9 / (2.0 * d * m))):F0} | {Median(all.Select(x => x.PeakGflops)):F1} | |");
        Emit($"| encoder product alone (SGEMM, no C stored) | {Tps(x => x.Product):F0} | {flop / Median(all.Select(x => x.Product)) / 1e9:F1} | 1.000 |");
        Emit($"| fused encoder (product + gate + stats + sparse code) | {Tps(x => x.Fused):F0} | {flop / Median(all.Select(x => x.Fused)) / 1e9:F1} | {RatioToProduct(x => x.Fused):F3} |");
        Emit($"| **GbaEngine training step** | **{Tps(x => x.Step):F0}** | {flop / Median(all.Select(x => x.Step)) / 1e9:F1} | **{RatioToProduct(x => x.Step):F3}** |");
        if (peer is not null)
        {
            Emit($"| PyTorch dense step (peer) | {Tps(x => x.TorchDense!.Value):F0} | {flop / Median(all.Select(x => x.TorchDense!.Value)) / 1e9:F1} | {RatioToProduct(x => x.TorchDense!.Value):F3} |");
            Emit($"| PyTorch sparse step (peer) | {Tps(x => x.TorchSparse!.Value):F0} | {flop / Median(all.Select(x => x.TorchSparse!.Value)) / 1e9:F1} | {RatioToProduct(x => x.TorchSparse!.Value):F3} |");
        }
        Emit("");
        var ratios = new Dictionary<string, double>
        {
            ["step_over_limit"] = Median(all.Select(StepOverLimit)),
            ["step_over_product"] = RatioToProduct(x => x.Step),
            ["fused_over_product"] = RatioToProduct(x => x.Fused),
            ["product_over_peak"] = Median(all.Select(x => flop / x.Product / 1e9 / x.PeakGflops)),
        };
        if (peer is not null)
        {
            ratios["ours_over_torch_dense"] = Median(all.Select(x => x.TorchDense!.Value / x.Step));
            ratios["ours_over_torch_sparse"] = Median(all.Select(x => x.TorchSparse!.Value / x.Step));
        }
        // The same on the CPU clock: what the work costs when neighbours are not counted.
        var ratiosCpu = new Dictionary<string, double>
        {
            ["step_over_limit"] = Median(all.Select(x => batch / x.StepCpu / (x.PeakGflopsCpu * 1e9 / (2.0 * d * m)))),
            ["step_over_product"] = Median(all.Select(x => x.ProductCpu / x.StepCpu)),
            ["fused_over_product"] = Median(all.Select(x => x.ProductCpu / x.FusedCpu)),
            ["product_over_peak"] = Median(all.Select(x => flop / x.ProductCpu / 1e9 / x.PeakGflopsCpu)),
        };
        if (peer is not null)
        {
            ratiosCpu["ours_over_torch_dense"] = Median(all.Select(x => x.TorchDenseCpu!.Value / x.StepCpu));
            ratiosCpu["ours_over_torch_sparse"] = Median(all.Select(x => x.TorchSparseCpu!.Value / x.StepCpu));
        }
        Emit($"**Step / machine limit: {ratios["step_over_limit"]:F2}** (median of per-round ratios; the product alone reaches {ratios["product_over_peak"]:F2} of the peak).");
        if (peer is not null)
            Emit($"**Ours / PyTorch dense: {ratios["ours_over_torch_dense"]:F2}x; ours / PyTorch sparse: {ratios["ours_over_torch_sparse"]:F2}x** (medians of per-round ratios).");
        Emit($"On the CPU clock (process CPU seconds per thread, which neighbours do not inflate by taking our cores): step / limit {ratiosCpu["step_over_limit"]:F2}, step / product {ratiosCpu["step_over_product"]:F2}" +
            (peer is null ? "." : $", ours / PyTorch dense {ratiosCpu["ours_over_torch_dense"]:F2}x, ours / PyTorch sparse {ratiosCpu["ours_over_torch_sparse"]:F2}x."));
        Emit($"Batch L0 of the last timed step: {l0:F1} of {m} ({100 * l0 / m:F2}%). Step time by phase: {trainer.Profile}.");
        Emit("");
        Emit("Rounds (medians within each):");
        Emit("");
        foreach (var line in roundLines) Emit($"- {line}");
        Emit("");

        if (Value(args, "--out") is { } outPath) File.WriteAllText(outPath, sb.ToString());
        if (Value(args, "--json-out") is { } jsonPath)
        {
            var profile = trainer.Profile;
            var json = new
            {
                shape = new { d, neurons = m, batch },
                threads,
                method = method.ToString().ToLowerInvariant(),
                kernels = fx.KernelName,
                warm_steps = fx.WarmSteps,
                bias_init = biasInit.ToString().ToLowerInvariant(),
                l0_first = fx.FirstL0,
                l0 = fx.WarmL0,
                l0_percent_of_m = 100 * l0Fraction,
                tokens_per_s = new
                {
                    limit = Median(all.Select(x => x.PeakGflops * 1e9 / (2.0 * d * m))),
                    product = Tps(x => x.Product),
                    fused = Tps(x => x.Fused),
                    step = Tps(x => x.Step),
                    torch_dense = peer is null ? (double?)null : Tps(x => x.TorchDense!.Value),
                    torch_sparse = peer is null ? (double?)null : Tps(x => x.TorchSparse!.Value),
                },
                ratios,
                ratios_cpu = ratiosCpu,
                phases_ms_per_step = StepProfile.Phases.Select((name, i) => new { name, ms = 1e3 * profile.Seconds(i) / Math.Max(1, profile.Steps) }).ToArray(),
                peer_check = check,
                rounds = all,
            };
            File.WriteAllText(jsonPath, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        }
        return 0;
    }

    static string DescribeMethod(TrainerOptions o) => o.Method switch
    {
        TrainingMethod.Gba => $"GBA, {o.Groups} groups, TAF {o.Htf} to {o.Ltf}",
        TrainingMethod.Ba => $"BA, p = {o.Taf}",
        _ => $"TopK, k = {o.K}",
    };

    /// <summary>Wall seconds, and process CPU seconds per thread, of one call.</summary>
    static (double Wall, double Cpu) Seconds(Action a, int threads)
    {
        var cpu0 = Environment.CpuUsage.TotalTime;
        long t0 = Stopwatch.GetTimestamp();
        a();
        return (Stopwatch.GetElapsedTime(t0).TotalSeconds, (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds / threads);
    }

    /// <summary>The peers' own agreement check at a small batch: throws unless the sparse step reproduces the dense one.</summary>
    static string PeerCheck(string script, int d, int m, int threads, double l0Fraction)
    {
        using var json = RunPeer(script, ["--mode", "check", "--batch", "512", "--steps", "2"], d, m, threads, l0Fraction);
        var r = json.RootElement;
        return string.Create(CultureInfo.InvariantCulture,
            $"loss {r.GetProperty("loss").GetDouble():G6}, L0 {r.GetProperty("l0").GetDouble():F1}, gradients within {r.GetProperty("worst_gradient_difference").GetDouble():E1} of their terms' magnitude (allowed {r.GetProperty("tolerance").GetDouble():E0})");
    }

    /// <summary>One timed step of a PyTorch peer (after its own untimed step): wall seconds and process CPU seconds per thread.</summary>
    static (double Wall, double Cpu) Peer(string script, string mode, int d, int m, int batch, int threads, double l0Fraction)
    {
        using var json = RunPeer(script, ["--mode", mode, "--batch", $"{batch}", "--steps", "1"], d, m, threads, l0Fraction);
        var r = json.RootElement;
        return (r.GetProperty("step_seconds_median").GetDouble(), r.GetProperty("step_cpu_seconds_median").GetDouble() / threads);
    }

    static JsonDocument RunPeer(string script, string[] args, int d, int m, int threads, double l0Fraction)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var inv = CultureInfo.InvariantCulture;
        foreach (var a in new[] { script, "--threads", $"{threads}", "--d", $"{d}", "--neurons", $"{m}", "--l0-fraction", l0Fraction.ToString("R", inv) }.Concat(args))
            psi.ArgumentList.Add(a);
        psi.Environment["OPENBLAS_CORETYPE"] = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "SkylakeX";
        using var proc = Process.Start(psi) ?? throw new InvalidOperationException("could not start python3");
        var stderr = proc.StandardError.ReadToEndAsync();
        string stdout = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        if (proc.ExitCode != 0) throw new InvalidOperationException($"PyTorch peer ({string.Join(' ', args)}) failed ({proc.ExitCode}): {stderr.Result.Trim()}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
    }
}
