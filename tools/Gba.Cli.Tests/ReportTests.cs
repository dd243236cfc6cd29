using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using GbaEngine.Cli.Report;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

using GbaEngine.Charts;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba report`: one self-contained HTML file whose plots are well-formed SVG.</summary>
public partial class ReportTests
{
    [GeneratedRegex("<svg\\b.*?</svg>", RegexOptions.Singleline)]
    private static partial Regex SvgElement();

    [GeneratedRegex("(?:src|href)\\s*=\\s*[\"']?\\s*https?://", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();

    static List<XElement> AssertSelfContained(string html, int minPlots)
    {
        Assert.DoesNotMatch(ExternalReference(), html);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.EndsWith("</html>\n", html);
        var svgs = SvgElement().Matches(html).Select(m => XElement.Parse(m.Value)).ToList();   // each plot parses as XML
        Assert.True(svgs.Count >= minPlots, $"{svgs.Count} plots, expected at least {minPlots}");
        XNamespace ns = "http://www.w3.org/2000/svg";
        foreach (var svg in svgs)
        {
            Assert.Equal(ns + "svg", svg.Name);
            Assert.NotEmpty(svg.Descendants(ns + "text"));                                     // ticks and labels
            Assert.True(svg.Descendants().Count(e => e.Name.LocalName is "polyline" or "rect" or "circle") > 1, "a plot with no marks");
        }
        return svgs;
    }

    static IEnumerable<string> Titles(IEnumerable<XElement> svgs) => svgs.Select(s => s.Elements().First(e => e.Name.LocalName == "title").Value);

    [Fact]
    public void SyntheticRunReportHasEveryPlot()
    {
        using var t = new TempDir();
        var (tc, _, te) = Run(["train", .. Tweak("--steps", "60", "--groups", "3", "--htf", "0.1", "--ltf", "0.02", "--d-sae", "96"), "--eval-every", "20", "--out", t["run"], "--quiet"]);
        Assert.True(tc == 0, te);
        var (code, stdout, err) = Run("report", t["run"], "--out", t["r/report.html"], "--json");
        Assert.True(code == 0, err);
        Assert.Equal(t["r/report.html"], JsonNode.Parse(LastLine(stdout))!["report"]!.GetValue<string>());
        var html = File.ReadAllText(t["r/report.html"]);
        var svgs = AssertSelfContained(html, 9);
        var titles = Titles(svgs).ToList();
        foreach (var expected in new[] { "Training loss", "FVU on held-out tokens", "Active neurons per token (L0)", "Feature recovery over training",
                     "Median firing frequency per group over training", "Per-neuron firing frequency by group (final)", "Bias b by group (final)",
                     "Feature density: neurons by firing frequency", "Best decoder cosine per true feature" })
            Assert.Contains(expected, titles);
        // Three groups: three TAF ticks in the per-group frequency plot, one red line each.
        var perGroup = svgs.Single(s => Titles([s]).Single() == "Per-neuron firing frequency by group (final)");
        Assert.Equal(3, perGroup.Elements().Count(e => e.Name.LocalName == "line" && (string?)e.Attribute("stroke") == "#D00" && (string?)e.Attribute("stroke-width") == "2"));
        Assert.Single(perGroup.Elements(), e => (string?)e.Attribute("class") == "legend");
        Assert.Contains("No token text", html);
    }

    [Fact]
    public void FileRunWithTokenTextShowsTopActivatingTokensInContext()
    {
        using var t = new TempDir();
        // 3,000 rows of synthetic activations with made-up token text: sentences of 8 tokens "w<row>" (within the context window).
        Assert.Equal(0, Run("synth", "--out", t["s"], "--tokens", "3000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet").Code);
        using (var w = new StreamWriter(t["s/tokens.tsv"]))
        {
            w.WriteLine("row\tsentence\tposition\ttoken_id\tpiece");
            for (int r = 0; r < 3000; r++) w.WriteLine($"{r}\t{r / 8}\t{r % 8}\t{r}\t\u2581w{r}");
        }
        var (tc, _, te) = Run(["train", "--data", t["s/activations.npy"], "--token-text", t["s/tokens.tsv"], "--d-sae", "64", "--batch", "64", "--steps", "30",
            "--init-tokens", "512", "--buffer-tokens", "640", "--threads", "1", "--out", t["run"], "--quiet"]);
        Assert.True(tc == 0, te);
        var top = JsonNode.Parse(File.ReadAllText(t["run/top_activations.json"]))!;
        Assert.Equal(2700, top["eval_first_row"]!.GetValue<long>());   // the last 10% are held out
        var first = top["features"]!.AsArray()[0]!["examples"]!.AsArray()[0]!;
        long row = first["row"]!.GetValue<long>();
        Assert.InRange(row, 2700, 2999);
        Assert.Equal($" w{row}", first["token"]!.GetValue<string>());
        // Context: the rest of the 8-token sentence on either side, never the neighbouring sentences.
        string Words(long from, long to) => string.Concat(Enumerable.Range((int)from, (int)(to - from)).Select(r => $" w{r}"));
        Assert.Equal(Words(row / 8 * 8, row), first["before"]!.GetValue<string>());
        Assert.Equal(Words(row + 1, row / 8 * 8 + 8), first["after"]!.GetValue<string>());

        Assert.Equal(0, Run("report", t["run"]).Code);
        var html = File.ReadAllText(t["run/report.html"]);
        AssertSelfContained(html, 6);
        Assert.Contains($"<mark> w{row}</mark>", html);
        Assert.DoesNotContain("Feature recovery over training", html);   // no ground truth

        // Misaligned token text is refused before training.
        File.WriteAllLines(t["s/short.tsv"], File.ReadLines(t["s/tokens.tsv"]).Take(100));
        var (bad, _, badErr) = Run("train", "--data", t["s/activations.npy"], "--token-text", t["s/short.tsv"], "--steps", "1");
        Assert.Equal(1, bad);
        Assert.Contains("short.tsv", badErr);
        AssertOneLine(badErr);
    }

    [Fact]
    public void PlotHelperEscapesTextAndHandlesDegenerateData()
    {
        var svg = Svg.LinePlot(new PlotSpec("a < b & \"c\"", "x", "y", LogY: true),
            [new Series("zeros & negatives", [0, 1, 2], [0, -1, double.NaN]), new Series("one point", [5], [3])]);
        var x = XElement.Parse(svg);
        Assert.Contains("a < b & \"c\"", x.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
        var empty = XElement.Parse(Svg.Histogram(new PlotSpec("empty", "x", "n"), [0, 1, 2], [0, 0]));
        Assert.DoesNotContain(empty.Descendants(), e => e.Name.LocalName == "rect" && e.Elements().Any());   // no bars (bars carry a <title>)
        var strip = XElement.Parse(Svg.GroupStrip(new PlotSpec("s", "g", "v", LogY: true), ["a", "b"], [[], [0.1, 0.2, 0.0]], [0.5, 0.05]));
        Assert.Equal(2, strip.Descendants().Count(e => e.Name.LocalName == "circle"));   // 0.0 is off a log axis
    }

    [Fact]
    public void BarsAndReferenceLinesOfTheExperimentChartsAreWellFormed()
    {
        var bars = XElement.Parse(Svg.Bars(new PlotSpec("b & c", "", "fraction", YRange: (0, 1)), ["GBA", "TopK <k>"],
            [("FRR@0.8", [1.0, 0.5]), ("dead", [double.NaN, 0.2])]));
        Assert.Equal(3, bars.Descendants().Count(e => e.Name.LocalName == "rect" && e.Elements().Any()));   // NaN left out
        var lines = XElement.Parse(Svg.LinePlot(new PlotSpec("r", "p / f", "FRR", LogX: true, YRange: (0, 1)),
            [Series.From("FRR", [(0.5, 0.1), (2, 0.9), (8, 1.0)])], verticalLines: [(1, "p = f"), (4, "4f")]));
        Assert.Contains("p = f", lines.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value));
    }

    [Fact]
    public void AxisTicksAreNiceNumbers()
    {
        var lin = new Axis(0, 6000, false, 0, 100).Ticks().Select(t => t.Value).ToArray();
        Assert.Contains(0.0, lin);
        Assert.Contains(2000.0, lin);
        Assert.All(lin, v => Assert.Equal(0, v % 1000));
        var log = new Axis(1e-4, 0.1, true, 0, 100).Ticks().Select(t => t.Label).ToArray();
        Assert.Equal(["1e-4", "0.001", "0.01", "0.1"], log);
    }

    [Fact]
    public void ErrorsAndOutOfProcess()
    {
        using var t = new TempDir();
        var (missing, _, e1) = Run("report", t["nope"]);
        Assert.Equal(1, missing);
        Assert.Contains("nope", e1);
        AssertOneLine(e1);
        var (empty, _, e2) = Run("report", t.Path);
        Assert.Equal(1, empty);
        Assert.Contains("not a run directory", e2);
        File.WriteAllText(t["metrics.jsonl"], "{\"step\": 1}\nnot json\n");
        var (bad, _, e3) = Run("report", t.Path);
        Assert.Equal(1, bad);
        Assert.Contains("metrics.jsonl: line 2", e3);
        Assert.Equal(2, Run("report").Code);

        Assert.Equal(0, Run(["train", .. TinyArgs, "--out", t["run"], "--quiet"]).Code);
        var (code, stdout, err) = Exec(["report", t["run"], "--out", t["x.html"]]);
        Assert.True(code == 0, err);
        Assert.Contains("x.html", stdout);
        AssertSelfContained(File.ReadAllText(t["x.html"]), 6);
        Assert.Equal(2, Exec(["report", t["run"], "--colour"]).Code);
    }
}
