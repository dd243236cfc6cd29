using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Cli.Report;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Commands;

/// <summary>`gba report RUN_DIR [--out FILE.html]`: one self-contained HTML file with inline SVG plots of a run.</summary>
public static class ReportCommand
{
    static readonly HashSet<string> ValueOptions = ["--out"];
    static readonly HashSet<string> Flags = ["--json", "--help", "-h"];

    const string Help = """
        gba report: one self-contained HTML report (inline SVG plots, no scripts or external files) of a run

        Usage: gba report RUN_DIR [--out FILE.html] [--json]

          RUN_DIR          a `gba train --out` directory (config.json, summary.json, metrics.jsonl, loss.jsonl,
                           neurons.json and, with --token-text, top_activations.json)
          --out FILE.html  where to write it (default RUN_DIR/report.html)
          --json           last stdout line: {"report": path, "plots": number of SVG plots}

        Plots: training loss, FVU and L0 over training; FRR over training (runs with ground truth); median
        firing frequency per group against its TAF over training; final per-neuron frequency and bias by group;
        the feature-density histogram; best cosine per true feature; top-activating tokens of sample features.

        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        if (o.Positional.Count != 1) throw new UsageException(o.Positional.Count == 0 ? "give the run directory" : $"unexpected argument '{o.Positional[1]}'");
        var run = RunData.Load(o.Positional[0]);
        var html = ReportBuilder.Build(run);
        var path = o.String("--out") ?? Path.Combine(o.Positional[0], "report.html");
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(path, html);
        int plots = CountOf(html, "<svg");
        stdout.WriteLine($"wrote {path} ({plots} plots, {html.Length / 1024} KiB)");
        if (o.Flag("--json")) stdout.WriteLine(new JsonObject { ["report"] = Path.GetFullPath(path), ["plots"] = plots }.ToJsonString());
        return CliApp.Ok;
    }

    static int CountOf(string s, string what)
    {
        int n = 0;
        for (int i = s.IndexOf(what, StringComparison.Ordinal); i >= 0; i = s.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
