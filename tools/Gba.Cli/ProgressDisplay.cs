using System.Globalization;
using GbaEngine.Training;

namespace GbaEngine.Cli;

/// <summary>
/// Training progress on stderr: a redrawn one-line bar (tokens/s, ETA once the rate is steady, loss, L0, FVU) on a terminal;
/// when stderr is redirected (cluster logs), a plain line every <see cref="LineInterval"/> instead.
/// </summary>
public sealed class ProgressDisplay(TextWriter stderr, bool interactive, bool quiet) : ITrainingObserver
{
    public static readonly TimeSpan LineInterval = TimeSpan.FromSeconds(10);
    static readonly TimeSpan RedrawInterval = TimeSpan.FromMilliseconds(200);
    TimeSpan _last = TimeSpan.FromDays(-1);
    double _fvu = double.NaN;
    EtaEstimate? _eta;

    public void OnStep(in StepReport r)
    {
        if (quiet) return;
        var now = TimeSpan.FromSeconds(r.Seconds);
        bool last = r.Step == r.TotalSteps;
        if (!last && now - _last < (interactive ? RedrawInterval : LineInterval)) return;
        _last = now;
        _eta ??= new EtaEstimate(r.TotalTokens);   // the first step always prints: it is the estimate's reference
        string eta = _eta.Text(r.Tokens, r.Seconds);
        double frac = (double)r.Step / r.TotalSteps;
        string stats = string.Create(CultureInfo.InvariantCulture,
            $"{r.Tokens:N0}/{r.TotalTokens:N0} tok  {r.TokensPerSecond:N0} tok/s  {eta}  loss {r.Loss:G4}  L0 {r.L0:F1}  FVU {(double.IsNaN(_fvu) ? "-" : _fvu.ToString("F4", CultureInfo.InvariantCulture))}");
        if (interactive)
        {
            const int width = 24;
            int filled = (int)Math.Round(frac * width);
            stderr.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {frac * 100,5:F1}%  {stats}\u001b[K");
            if (last) stderr.WriteLine();
        }
        else stderr.WriteLine($"step {r.Step}/{r.TotalSteps} ({frac * 100:F1}%)  {stats}");
        stderr.Flush();
    }

    public void OnEvaluation(EvaluationReport report) => _fvu = report.Metrics.Fvu;

    internal static string Format(double seconds) =>
        seconds >= 3600 ? $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):D2}m" :
        seconds >= 60 ? $"{(int)(seconds / 60)}m{(int)(seconds % 60):D2}s" : $"{seconds:F0}s";
}
