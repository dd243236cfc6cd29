using System.Diagnostics;

namespace GbaEngine.Training;

/// <summary>What one training step reports: its loss, the batch L0, and the GBA bias update if one ran.</summary>
public readonly record struct StepOutcome(double Loss, double L0, BiasUpdateReport? BiasUpdate);

/// <summary>
/// Wall time per phase of the training step, summed over steps (Stopwatch ticks, so recording it
/// costs two timestamp reads and no allocation). It shows where a step's time goes beyond the one
/// dense product: the cost model says everything but Encode should be small.
/// </summary>
public sealed class StepProfile
{
    readonly long[] _ticks = new long[Phases.Length];

    /// <summary>Phase names, in step order.</summary>
    public static readonly string[] Phases = ["load", "encode", "decode", "gradients", "adamw", "renorm+bias"];

    /// <summary>Steps recorded.</summary>
    public long Steps { get; private set; }

    internal void Add(long load, long encode, long decode, long gradients, long adamw, long rest)
    {
        _ticks[0] += load; _ticks[1] += encode; _ticks[2] += decode;
        _ticks[3] += gradients; _ticks[4] += adamw; _ticks[5] += rest;
        Steps++;
    }

    /// <summary>Seconds spent in phase i over all steps.</summary>
    public double Seconds(int phase) => (double)_ticks[phase] / Stopwatch.Frequency;

    /// <summary>Seconds over every phase and step.</summary>
    public double TotalSeconds => (double)_ticks.Sum() / Stopwatch.Frequency;

    /// <summary>Forgets what was recorded.</summary>
    public void Reset()
    {
        Array.Clear(_ticks);
        Steps = 0;
    }

    /// <summary>One line: each phase's mean time per step and its share of the step time.</summary>
    public override string ToString()
    {
        double total = Math.Max(TotalSeconds, 1e-12), steps = Math.Max(Steps, 1);
        return string.Join(", ", Phases.Select((name, i) => $"{name} {1e3 * Seconds(i) / steps:F1} ms ({100 * Seconds(i) / total:F1}%)"));
    }
}
