using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Cli.Report;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Commands;

/// <summary>`gba report RUN_DIR [--out FILE.html]`: one self-contained HTML file with inline SVG plots of a run.</summary>
public static class ReportCommand
{
    static readonly OptionSpec Out = OptionSpec.Valued("out", "Output", "FILE.html", "where to write it (default RUN_DIR/report.html)");

    /// <summary>`gba report`'s options.</summary>
    public static readonly OptionSchema Schema = new("report",
        "one self-contained HTML report (inline SVG plots, no scripts or external files) of a run directory",
        [Out, SharedOptions.Json])
    {
        Usage = ["RUN_DIR [--out FILE.html] [--json]"],
        Notes = """
            RUN_DIR is a `gba train --out` directory (config.json, summary.json, metrics.jsonl, loss.jsonl, neurons.json and,
            with --token-text, top_activations.json). --json's line: {"report": path, "plots": number of SVG plots}.

            Plots: training loss, FVU and L0 over training; FRR over training (runs with ground truth); median
            firing frequency per group against its TAF over training; final per-neuron frequency and bias by group;
            the feature-density histogram; best cosine per true feature; top-activating tokens of sample features.
            """,
    };

    /// <summary>Runs `gba report` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Positional.Count != 1) throw new UsageException(o.Positional.Count == 0 ? "give the run directory" : $"unexpected argument '{o.Positional[1]}'");
        var run = RunData.Load(o.Positional[0]);
        var html = ReportBuilder.Build(run);
        var path = o.String(Out.Flag) ?? Path.Combine(o.Positional[0], "report.html");
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(path, html);
        int plots = CountOf(html, "<svg");
        stdout.WriteLine($"wrote {path} ({plots} plots, {html.Length / 1024} KiB)");
        if (o.Flag(SharedOptions.Json.Flag)) stdout.WriteLine(new JsonObject { ["report"] = Path.GetFullPath(path), ["plots"] = plots }.ToResultJson());
        return CliApp.Ok;
    }

    static int CountOf(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
