using GbaEngine.Cli;
using GbaEngine.Evaluation;
using GbaEngine.Training;

namespace GbaEngine.Cli.Tests;

/// <summary>Progress on stderr: a redrawn bar on a terminal, plain periodic lines in logs.</summary>
public class ProgressTests
{
    static void Feed(ProgressDisplay p, params double[] seconds)
    {
        for (int i = 0; i < seconds.Length; i++)
        {
            long step = i + 1, total = seconds.Length;
            p.OnStep(new StepReport(step, total, step * 512, total * 512, 0.25, 20.5, seconds[i]));
            if (i == 1) p.OnEvaluation(new EvaluationReport(step, step * 512, seconds[i], new EvaluationMetrics { Fvu = 0.1234 }));
        }
    }

    [Fact]
    public void LogsGetAPlainLineEveryTenSecondsAndAtTheEnd()
    {
        var w = new StringWriter();
        Feed(new ProgressDisplay(w, interactive: false, quiet: false), 1, 2, 5, 11.5, 12, 30);
        var lines = w.ToString().TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);   // t = 1 (the first step), 11.5 (10 s later) and 30 (the last step)
        Assert.StartsWith("step 1/6 (16.7%)", lines[0]);
        Assert.Contains("FVU -", lines[0]);
        Assert.StartsWith("step 4/6", lines[1]);
        Assert.Contains("FVU 0.1234", lines[1]);
        foreach (var part in new[] { "tok/s", "ETA", "loss 0.25", "L0 20.5" }) Assert.Contains(part, lines[1]);
        Assert.StartsWith("step 6/6 (100.0%)", lines[^1]);
        Assert.DoesNotContain('\r', w.ToString());
    }

    [Fact]
    public void TerminalsGetOneRedrawnBar()
    {
        var w = new StringWriter();
        Feed(new ProgressDisplay(w, interactive: true, quiet: false), 0.1, 0.5, 0.6, 1.0);
        var text = w.ToString();
        Assert.StartsWith("\r[", text);
        Assert.Contains("\u001b[K", text);                  // clears the rest of the line
        Assert.Single(text.TrimEnd().Split('\n'));           // one line, redrawn in place
        Assert.Contains("[########################] 100.0%", text);
        Assert.EndsWith("\n", text);
    }

    [Fact]
    public void QuietPrintsNothingAndWorkProgressFollowsTheSameRules()
    {
        var w = new StringWriter();
        Feed(new ProgressDisplay(w, interactive: false, quiet: true), 1, 20);
        Assert.Equal("", w.ToString());
        var work = new StringWriter();
        var p = new WorkProgress(work, interactive: false, quiet: false, "rows", 1000);
        p.Report(10);
        p.Report(1000);
        var lines = work.ToString().TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("100.0%  1,000/1,000 rows", lines[1]);
    }
}
