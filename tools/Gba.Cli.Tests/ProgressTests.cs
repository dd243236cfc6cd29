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
        Assert.Contains("ETA -", lines[0]);            // one step says nothing about the rate
        Assert.Contains("ETA 7s", lines[1]);           // 3 steps in the 10.5 s since step 1: 3.5 s a step, 2 to go
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

    /// <summary>
    /// The issue: the first line of a 3-minute run said "ETA 4h", the rate being taken over the first step (JIT, thread
    /// start, bias initialisation). Now there is no estimate until the rate was measured over a few seconds or a few
    /// percent of the work, and it is the rate since the first step.
    /// </summary>
    [Fact]
    public void TheEtaWaitsForASteadyRateAndLeavesOutTheStart()
    {
        // 1,000 steps of 0.1 s after a first step that took 20 s.
        var eta = new EtaEstimate(1000);
        Assert.Null(eta.SecondsLeft(1, 20.0));
        Assert.Null(eta.SecondsLeft(11, 21.0));                       // 1 s and 1% of the work: not yet
        Assert.Equal(90, eta.SecondsLeft(100, 29.9)!.Value, 6);        // 9.9 s of steady steps: 900 steps at 0.1 s (not 269 s)
        Assert.Equal(0, eta.SecondsLeft(1000, 120.0));

        // A fast job: 5% of the work is enough, however short the time.
        var fast = new EtaEstimate(10_000);
        Assert.Null(fast.SecondsLeft(100, 0.01));
        Assert.Equal(0.9, fast.SecondsLeft(1000, 0.1)!.Value, 6);      // 900 rows in 0.09 s, 9,000 to go
        Assert.Equal("ETA -", new EtaEstimate(10).Text(1, 5));
    }
}
