namespace GbaEngine.Evaluation;

/// <summary>Firing statistics of one GBA group against its target frequency.</summary>
public sealed record GroupFrequency(int Group, double TargetFrequency, int Neurons, double MeanFrequency, double MedianFrequency, int Dead);

/// <summary>Everything a run reports (spec/gba.md §5), on the original input scale.</summary>
public sealed record EvaluationMetrics
{
    /// <summary>Tokens evaluated.</summary>
    public long Tokens { get; init; }
    /// <summary>Mean squared error per element, original scale.</summary>
    public double Mse { get; init; }
    /// <summary>Fraction of variance unexplained: Σ‖x − x̂‖² / Σ‖x − mean(x)‖².</summary>
    public double Fvu { get; init; }
    /// <summary>1 − FVU.</summary>
    public double ExplainedVariance => 1 - Fvu;
    /// <summary>Mean number of active neurons per token.</summary>
    public double L0 { get; init; }
    /// <summary>L0 / M.</summary>
    public double FractionActive { get; init; }
    /// <summary>Fraction of neurons that never fired on the evaluation set.</summary>
    public double DeadFraction { get; init; }
    /// <summary>Counts of neurons per log10-frequency bin; bin i covers [−7 + i/2, −7 + (i+1)/2); dead neurons excluded.</summary>
    public int[] FrequencyHistogram { get; init; } = [];
    /// <summary>Per GBA group: firing frequencies against the group's TAF (empty without groups).</summary>
    public IReadOnlyList<GroupFrequency> Groups { get; init; } = [];
    /// <summary>Feature recovery rate at cosine 0.8 / 0.9 (null without ground truth).</summary>
    public double? Frr08 { get; init; }
    /// <summary>Feature recovery rate at cosine 0.9 (null without ground truth).</summary>
    public double? Frr09 { get; init; }
    /// <summary>Per true feature, the best cosine with any decoder direction.</summary>
    public float[]? BestCosines { get; init; }

    /// <summary>Lower edge of the histogram's first bin (log10 frequency).</summary>
    public const double HistogramMinLog10 = -7;
    /// <summary>Width of a histogram bin (log10 frequency).</summary>
    public const double HistogramBinWidth = 0.5;

    /// <summary>The log10 firing-frequency histogram (see <see cref="FrequencyHistogram"/>) of features that fired
    /// <paramref name="fires"/> times over <paramref name="tokens"/> tokens; features that never fired are left out.</summary>
    public static int[] FrequencyHistogramOf(ReadOnlySpan<long> fires, long tokens)
    {
        var hist = new int[(int)(-HistogramMinLog10 / HistogramBinWidth) + 1];
        foreach (long f in fires)
        {
            if (f == 0) continue;
            double lg = Math.Log10((double)f / tokens);
            int bin = (int)Math.Floor((lg - HistogramMinLog10) / HistogramBinWidth);
            hist[Math.Clamp(bin, 0, hist.Length - 1)]++;
        }
        return hist;
    }
}
