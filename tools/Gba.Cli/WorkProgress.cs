using System.Diagnostics;
using System.Globalization;

namespace GbaEngine.Cli;

/// <summary>
/// Progress of a long non-training job (synth, encode) on stderr in the same style as training: a
/// redrawn bar with rate and ETA on a terminal, a plain line every 10 s when stderr is redirected.
/// </summary>
public sealed class WorkProgress(TextWriter stderr, bool interactive, bool quiet, string unit, long total)
{
    readonly Stopwatch _clock = Stopwatch.StartNew();
    TimeSpan _last = TimeSpan.FromDays(-1);
    readonly EtaEstimate _eta = new(total);

    /// <summary>Progress for a command writing to <paramref name="stderr"/>: interactive only when that is the real, unredirected console.</summary>
    public static WorkProgress For(TextWriter stderr, bool quiet, string unit, long total) =>
        new(stderr, !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error), quiet, unit, total);

    public void Report(long done)
    {
        if (quiet) return;
        var now = _clock.Elapsed;
        bool last = done >= total;
        if (!last && now - _last < (interactive ? TimeSpan.FromMilliseconds(200) : ProgressDisplay.LineInterval)) return;
        _last = now;
        string eta = _eta.Text(done, now.TotalSeconds);   // the first report always prints: it is the estimate's reference
        double rate = now.TotalSeconds > 0 ? done / now.TotalSeconds : 0;
        double frac = total > 0 ? (double)done / total : 1;
        string stats = string.Create(CultureInfo.InvariantCulture, $"{done:N0}/{total:N0} {unit}  {rate:N0} {unit}/s  {eta}");
        if (interactive)
        {
            const int width = 24;
            int filled = (int)Math.Round(frac * width);
            stderr.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', width - filled)}] {frac * 100,5:F1}%  {stats}\u001b[K"));
            if (last) stderr.WriteLine();
        }
        else stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{frac * 100:F1}%  {stats}"));
        stderr.Flush();
    }
}
