using System.Text.Json.Nodes;
using GbaEngine.Training;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// loss.jsonl: the training loss and L0 over training, one line per interval of steps (mean over the
/// interval), about <see cref="Lines"/> lines per run whatever its length, for the report's curves.
/// </summary>
public sealed class LossLog(TextWriter w) : ITrainingObserver
{
    public const string FileName = "loss.jsonl";
    const int Lines = 400;
    double _loss, _l0;
    int _n;

    public void OnStep(in StepReport r)
    {
        _loss += r.Loss;
        _l0 += r.L0;
        _n++;
        long every = Math.Max(1, r.TotalSteps / Lines);
        if (r.Step % every != 0 && r.Step != r.TotalSteps) return;
        w.WriteLine(new JsonObject
        {
            ["step"] = r.Step, ["tokens"] = r.Tokens, ["seconds"] = Math.Round(r.Seconds, 3),
            ["loss"] = _loss / _n, ["l0"] = _l0 / _n,
        }.ToResultJson());
        if (r.Step == r.TotalSteps) w.Flush();
        (_loss, _l0, _n) = (0, 0, 0);
    }
}
