namespace GbaEngine.Cli;

/// <summary>
/// Time left, from the rate since the first report rather than since the start: the first step carries the JIT,
/// the thread pool's start and the bias initialisation, which made the first progress line of a 3-minute run say
/// "ETA 4h". Until the rate has been measured over <see cref="SteadySeconds"/> or <see cref="SteadyFraction"/> of
/// the work, there is no estimate (shown as "-").
/// </summary>
public sealed class EtaEstimate(long total)
{
    /// <summary>Seconds of steady work after which the rate is trusted.</summary>
    public const double SteadySeconds = 3;
    /// <summary>Fraction of the work after which the rate is trusted, however short the time.</summary>
    public const double SteadyFraction = 0.05;

    double _t0 = double.NaN;
    long _done0;

    /// <summary>Seconds left after <paramref name="done"/> of the total at <paramref name="seconds"/>, or null while the rate means nothing yet.</summary>
    public double? SecondsLeft(long done, double seconds)
    {
        if (double.IsNaN(_t0)) (_t0, _done0) = (seconds, done);
        long work = done - _done0;
        double span = seconds - _t0;
        if (done >= total) return 0;
        if (work <= 0 || span <= 0 || (span < SteadySeconds && work < SteadyFraction * total)) return null;
        return (total - done) * span / work;
    }

    /// <summary>"ETA 1m05s", or "ETA -" without an estimate.</summary>
    public string Text(long done, double seconds) =>
        SecondsLeft(done, seconds) is { } left ? "ETA " + ProgressDisplay.Format(left) : "ETA -";
}
