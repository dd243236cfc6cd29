// `Engine.Benchmarks --sparse-blocks`: the sparse passes of a training step (decode + loss, then every
// gradient: SparseBackward) with neuron blocks of several sizes, interleaved sample by sample on one
// batch and code, at the step-ratios shape and state. The block is sized so its weight rows (decode)
// or weight and gradient rows (gradients) stay in the core's L2; this checks the size on the CPU at hand.
using System.Diagnostics;
using System.Globalization;
using GbaEngine.Model;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Training;

using static BenchmarkSupport;

internal static class SparseBlockRatios
{
    public const string Usage = """
        --sparse-blocks [--d 768] [--neurons 16384] [--batch 4096] [--threads 2] [--warm-steps 7] [--rounds 7]
                        [--block-kib 448,896,1792] [--bias-init edge|quantile]
          Times decode and gradients per block size, interleaved; prints ms per pass (medians) and each
          size's time relative to the first (median of per-round ratios). --bias-init quantile: the
          early state (L0 about 2.5% of M), where the sparse passes cost most.
        """;

    public static int Run(string[] args)
    {
        int Int(string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int d = Int("--d", 768), m = Int("--neurons", 16384), batch = Int("--batch", 4096), threads = Int("--threads", 2);
        int rounds = Int("--rounds", 7), warm = Int("--warm-steps", 7);
        var sizes = (Value(args, "--block-kib") ?? "448,896,1792").Split(',').Select(v => long.Parse(v, CultureInfo.InvariantCulture) * 1024).ToArray();

        var biasInit = (Value(args, "--bias-init") ?? "edge") switch
        {
            "edge" => BiasInitialization.Edge,
            "quantile" => BiasInitialization.Quantile,
            var other => throw new ArgumentException($"--bias-init {other}: expected edge or quantile"),
        };
        using var fx = new StepFixture(TrainingMethod.Gba, batch, d, m, threads, k: 32, warmSteps: warm, biasInit: biasInit);
        fx.FusedEncode();
        var model = fx.Trainer.Model;
        var grad = model.Parameters.CloneShape();
        var passes = sizes.Select(size => SparseBackward.WithBlockBytes(model.Architecture, model.Parameters, batch, fx.Pool, size)).ToArray();
        Console.WriteLine($"CPU {CpuModel()}, kernels {fx.KernelName}, d={d}, M={m}, batch {batch}, {threads} thread(s), L0 {fx.Code.L0:F1} ({100 * fx.Code.L0 / m:F2}% of M) after {fx.WarmSteps} steps; {rounds} rounds");

        var decode = sizes.Select(_ => new List<double>()).ToArray();
        var gradients = sizes.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < rounds; r++)
            for (int i = 0; i < sizes.Length; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                passes[i].Decode(fx.Input, batch, fx.Code);
                long t1 = Stopwatch.GetTimestamp();
                passes[i].Gradients(fx.Centred, batch, fx.Code, grad);
                long t2 = Stopwatch.GetTimestamp();
                decode[i].Add((t1 - t0) * 1e3 / Stopwatch.Frequency);
                gradients[i].Add((t2 - t1) * 1e3 / Stopwatch.Frequency);
            }
        Console.WriteLine("| block | decode ms | gradients ms | decode vs first | gradients vs first |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        for (int i = 0; i < sizes.Length; i++)
        {
            double dr = Median(decode[i].Zip(decode[0], (a, b) => a / b)), gr = Median(gradients[i].Zip(gradients[0], (a, b) => a / b));
            Console.WriteLine($"| {sizes[i] / 1024} KiB | {Median(decode[i]):F1} | {Median(gradients[i]):F1} | {dr:F3} | {gr:F3} |");
        }
        foreach (var p in passes) p.Dispose();
        return 0;
    }
}
