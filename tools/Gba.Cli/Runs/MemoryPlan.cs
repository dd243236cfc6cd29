using System.Globalization;
using GbaEngine.Cli.Options;
using GbaEngine.Training;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// What a run will hold in memory, estimated from its settings before anything is allocated, so that
/// --batch 1000000000 or --d-sae 200000 --dim 4096 is refused naming the flags instead of ending in
/// "Out of memory." and an abort (exit 134). The estimate counts the large arrays only (parameters with their
/// gradients and two AdamW moments, the batch's dense buffers, the start-up and evaluation tokens, the
/// shuffle buffer, per-thread scratch); it is a lower bound, so a refusal is certain, not a guess.
/// </summary>
public sealed record MemoryPlan(long Parameters, long Training, long Batch, long Startup, long Evaluation, long Shuffle, long Scratch)
{
    /// <summary>Bytes of all parts.</summary>
    public long Total => Training + Batch + Startup + Evaluation + Shuffle + Scratch;

    /// <summary>The estimate for a run of <paramref name="o"/> on rows of width <paramref name="dim"/>.</summary>
    public static MemoryPlan Estimate(TrainerOptions o, int dim, long evalTokens, long shuffleRows)
    {
        long stride = (dim + 15) / 16 * 16, m = o.Neurons;
        long parameters = m * stride * (o.Tied ? 1 : 2) + 3 * m + stride;
        return new MemoryPlan(
            parameters,
            Training: 4 * 4 * parameters,                                          // weights, gradients, AdamW m and v
            Batch: 4L * o.BatchSize * (3 * stride + m),                            // raw, normalised, reconstructed rows; pre-activations
            Startup: 4L * o.InitTokens * stride,
            Evaluation: 4L * evalTokens * dim,
            Shuffle: 4L * shuffleRows * dim,
            Scratch: 4L * o.Threads * 4 * (m + stride));
    }

    /// <summary>What the process may use: the GC's limit (physical memory, a cgroup v1/v2 limit or DOTNET_GCHeapHardLimit, whichever is smallest).</summary>
    public static long Available => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Throws a <see cref="SettingException"/> naming the flags that shrink the largest parts when the run cannot fit.</summary>
    public void EnsureFits(long available)
    {
        if (Total <= available) return;
        var parts = new (long Bytes, string Flags)[]
        {
            (Training, "--d-sae (or --dim)"), (Batch, "--batch"), (Startup, "--init-tokens"), (Evaluation, "--eval-tokens"),
            (Shuffle, "the shuffle buffer"), (Scratch, "--threads"),
        };
        var largest = parts.OrderByDescending(p => p.Bytes).Where(p => p.Bytes > available / 10).Select(p => $"{p.Flags} ({Size(p.Bytes)})");
        throw new SettingException($"the run needs at least {Size(Total)} of memory and {Size(available)} is available: lower {string.Join(", ", largest)}");
    }

    /// <summary>One line for --dry-run.</summary>
    public string Describe(long available) =>
        $"memory estimate {Size(Total)} of {Size(available)} available: {Parameters:N0} parameters with gradients and AdamW moments {Size(Training)}, " +
        $"batch {Size(Batch)}, start-up tokens {Size(Startup)}, evaluation tokens {Size(Evaluation)}, shuffle buffer {Size(Shuffle)}, per-thread scratch {Size(Scratch)}";

    static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F1} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
    };
}
