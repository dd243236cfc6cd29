using System.Globalization;
using System.Security;
using System.Text;

namespace GbaEngine.Cli.Experiments;

/// <summary>One line of a chart: points in data coordinates (NaN y values leave a gap).</summary>
public sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false, bool Markers = true);

/// <summary>A vertical reference line (e.g. the true feature frequency) with its label.</summary>
public sealed record Marker(double X, string Label);

/// <summary>
/// Self-contained SVG charts for the experiment reports (no scripts, no external assets, valid XML):
/// line charts with linear or log10 axes, and grouped bar charts. Axes, "nice" ticks, labels and
/// a legend; fixed 640×400 canvas and a colour-blind-safe palette (Okabe-Ito).
/// </summary>
public static class SvgChart
{
    const int Width = 640, Height = 400, Left = 70, Right = 170, Top = 40, Bottom = 60;
    static readonly string[] Palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
    static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>A line chart. Log axes drop non-positive values; yRange fixes the y axis (e.g. 0..1 for rates).</summary>
    public static string Lines(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool logX = false, bool logY = false,
        (double Min, double Max)? yRange = null, IReadOnlyList<Marker>? markers = null)
    {
        double Tx(double v) => logX ? Math.Log10(v) : v;
        double Ty(double v) => logY ? Math.Log10(v) : v;
        bool Ok(double x, double y) => double.IsFinite(x) && double.IsFinite(y) && (!logX || x > 0) && (!logY || y > 0);
        var pts = series.SelectMany(s => s.Points).Where(p => Ok(p.X, p.Y)).ToArray();
        var xs = pts.Select(p => Tx(p.X)).Concat((markers ?? []).Where(m => !logX || m.X > 0).Select(m => Tx(m.X))).ToArray();
        var (x0, x1) = Extent(xs, pad: !logX);
        var (y0, y1) = yRange is { } r ? (Ty(r.Min), Ty(r.Max)) : Extent(pts.Select(p => Ty(p.Y)).ToArray(), pad: true);
        var svg = Begin(title);
        var xTicks = logX ? LogTicks(x0, x1) : NiceTicks(x0, x1);
        var yTicks = logY ? LogTicks(y0, y1) : NiceTicks(y0, y1);
        Axes(svg, xLabel, yLabel, x0, x1, y0, y1, xTicks, yTicks, logX, logY);
        double Px(double v) => Left + (Tx(v) - x0) / (x1 - x0) * (Width - Left - Right);
        double Py(double v) => Height - Bottom - (Ty(v) - y0) / (y1 - y0) * (Height - Top - Bottom);
        foreach (var m in markers ?? [])
        {
            if (logX && m.X <= 0) continue;
            double px = Px(m.X);
            svg.Append(Ci, $"<line x1=\"{px:F1}\" y1=\"{Top}\" x2=\"{px:F1}\" y2=\"{Height - Bottom}\" stroke=\"#888\" stroke-dasharray=\"2,3\"/>");
            svg.Append(Ci, $"<text x=\"{px + 3:F1}\" y=\"{Top + 12}\" font-size=\"11\" fill=\"#555\">{Esc(m.Label)}</text>");
        }
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            string color = Palette[i % Palette.Length];
            // Earlier series are drawn wider, so series that coincide (e.g. several methods at FRR 1) stay visible as nested bands.
            double width = 2 + 4.0 * (series.Count - 1 - i) / Math.Max(1, series.Count - 1);
            var segment = new List<string>();
            void Flush()
            {
                if (segment.Count > 1)
                    svg.Append(Ci, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{width:F1}\"{(s.Dashed ? " stroke-dasharray=\"6,4\"" : "")} points=\"{string.Join(' ', segment)}\"/>");
                segment.Clear();
            }
            foreach (var (x, y) in s.Points)
            {
                if (!Ok(x, y)) { Flush(); continue; }
                segment.Add(string.Create(Ci, $"{Px(x):F1},{Py(y):F1}"));
                if (s.Markers) svg.Append(Ci, $"<circle cx=\"{Px(x):F1}\" cy=\"{Py(y):F1}\" r=\"{1.5 + width / 2.5:F1}\" fill=\"{color}\"/>");
            }
            Flush();
        }
        Legend(svg, series.Select(s => (s.Name, s.Dashed)).ToArray());
        return End(svg);
    }

    /// <summary>Grouped bars: one group per category, one bar per series.</summary>
    public static string Bars(string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<(string Name, double[] Values)> series,
        (double Min, double Max)? yRange = null)
    {
        var values = series.SelectMany(s => s.Values).Where(double.IsFinite).ToArray();
        var (y0, y1) = yRange ?? Extent(values.Append(0).ToArray(), pad: true);
        var svg = Begin(title);
        var yTicks = NiceTicks(y0, y1);
        Axes(svg, "", yLabel, 0, 1, y0, y1, [], yTicks, false, false);
        double plotW = Width - Left - Right, groupW = plotW / Math.Max(1, categories.Count);
        double barW = groupW * 0.8 / Math.Max(1, series.Count);
        double Py(double v) => Height - Bottom - (Math.Clamp(v, y0, y1) - y0) / (y1 - y0) * (Height - Top - Bottom);
        for (int c = 0; c < categories.Count; c++)
        {
            double gx = Left + c * groupW;
            // Labels wider than their group (about 6.5 px per character at 11 px) are slanted so they do not collide.
            if (categories.Max(x => x.Length) * 6.5 > groupW)
                svg.Append(Ci, $"<text x=\"{gx + groupW / 2:F1}\" y=\"{Height - Bottom + 14}\" font-size=\"11\" text-anchor=\"end\" transform=\"rotate(-20 {gx + groupW / 2:F1} {Height - Bottom + 14})\">{Esc(categories[c])}</text>");
            else
                svg.Append(Ci, $"<text x=\"{gx + groupW / 2:F1}\" y=\"{Height - Bottom + 16}\" font-size=\"11\" text-anchor=\"middle\">{Esc(categories[c])}</text>");
            for (int s = 0; s < series.Count; s++)
            {
                double v = c < series[s].Values.Length ? series[s].Values[c] : double.NaN;
                if (!double.IsFinite(v)) continue;
                double x = gx + groupW * 0.1 + s * barW, top = Py(v), bottom = Py(Math.Max(y0, 0));
                svg.Append(Ci, $"<rect x=\"{x:F1}\" y=\"{Math.Min(top, bottom):F1}\" width=\"{barW * 0.9:F1}\" height=\"{Math.Abs(bottom - top):F1}\" fill=\"{Palette[s % Palette.Length]}\"/>");
            }
        }
        Legend(svg, series.Select(s => (s.Name, false)).ToArray(), boxes: true);
        return End(svg);
    }

    static StringBuilder Begin(string title)
    {
        var svg = new StringBuilder();
        svg.Append(Ci, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\">");
        svg.Append(Ci, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        svg.Append(Ci, $"<text x=\"{Width / 2}\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{Esc(title)}</text>");
        return svg;
    }

    static string End(StringBuilder svg) => svg.Append("</svg>\n").ToString();

    static void Axes(StringBuilder svg, string xLabel, string yLabel, double x0, double x1, double y0, double y1,
        double[] xTicks, double[] yTicks, bool logX, bool logY)
    {
        int right = Width - Right, bottom = Height - Bottom;
        svg.Append(Ci, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{right - Left}\" height=\"{bottom - Top}\" fill=\"none\" stroke=\"#333\"/>");
        foreach (var t in xTicks)
        {
            double px = Left + (t - x0) / (x1 - x0) * (right - Left);
            svg.Append(Ci, $"<line x1=\"{px:F1}\" y1=\"{bottom}\" x2=\"{px:F1}\" y2=\"{bottom + 5}\" stroke=\"#333\"/>");
            svg.Append(Ci, $"<text x=\"{px:F1}\" y=\"{bottom + 18}\" font-size=\"11\" text-anchor=\"middle\">{Esc(TickLabel(t, logX))}</text>");
        }
        foreach (var t in yTicks)
        {
            double py = bottom - (t - y0) / (y1 - y0) * (bottom - Top);
            svg.Append(Ci, $"<line x1=\"{Left}\" y1=\"{py:F1}\" x2=\"{right}\" y2=\"{py:F1}\" stroke=\"#ddd\"/>");
            svg.Append(Ci, $"<line x1=\"{Left - 5}\" y1=\"{py:F1}\" x2=\"{Left}\" y2=\"{py:F1}\" stroke=\"#333\"/>");
            svg.Append(Ci, $"<text x=\"{Left - 8}\" y=\"{py + 4:F1}\" font-size=\"11\" text-anchor=\"end\">{Esc(TickLabel(t, logY))}</text>");
        }
        if (xLabel.Length > 0)
            svg.Append(Ci, $"<text x=\"{(Left + right) / 2}\" y=\"{Height - 18}\" font-size=\"12\" text-anchor=\"middle\">{Esc(xLabel)}</text>");
        svg.Append(Ci, $"<text x=\"16\" y=\"{(Top + bottom) / 2}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 {(Top + bottom) / 2})\">{Esc(yLabel)}</text>");
    }

    static void Legend(StringBuilder svg, (string Name, bool Dashed)[] entries, bool boxes = false)
    {
        int x = Width - Right + 12, y = Top + 8;
        for (int i = 0; i < entries.Length; i++, y += 18)
        {
            string color = Palette[i % Palette.Length];
            if (boxes) svg.Append(Ci, $"<rect x=\"{x}\" y=\"{y - 8}\" width=\"18\" height=\"10\" fill=\"{color}\"/>");
            else svg.Append(Ci, $"<line x1=\"{x}\" y1=\"{y - 3}\" x2=\"{x + 18}\" y2=\"{y - 3}\" stroke=\"{color}\" stroke-width=\"2\"{(entries[i].Dashed ? " stroke-dasharray=\"6,4\"" : "")}/>");
            foreach (var line in Wrap(entries[i].Name, 22))
            {
                svg.Append(Ci, $"<text x=\"{x + 24}\" y=\"{y + 1}\" font-size=\"11\">{Esc(line)}</text>");
                y += 13;
            }
            y -= 13;
        }
    }

    /// <summary>Splits a legend label at spaces into lines of at most about <paramref name="width"/> characters.</summary>
    static IEnumerable<string> Wrap(string text, int width)
    {
        var line = "";
        foreach (var word in text.Split(' '))
        {
            if (line.Length > 0 && line.Length + 1 + word.Length > width) { yield return line; line = "  " + word; }
            else line = line.Length == 0 ? word : line + " " + word;
        }
        if (line.Length > 0) yield return line;
    }

    static (double, double) Extent(double[] v, bool pad)
    {
        if (v.Length == 0) return (0, 1);
        double lo = v.Min(), hi = v.Max();
        if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
        else if (pad) { double p = 0.05 * (hi - lo); lo -= p; hi += p; }
        return (lo, hi);
    }

    /// <summary>Ticks at 1, 2 or 5 × 10^k, about five of them.</summary>
    public static double[] NiceTicks(double lo, double hi)
    {
        double span = hi - lo, raw = span / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
        var ticks = new List<double>();
        for (double t = Math.Ceiling(lo / step) * step; t <= hi + 1e-9 * span; t += step) ticks.Add(Math.Abs(t) < 1e-12 * span ? 0 : t);
        return ticks.ToArray();
    }

    /// <summary>Ticks (in log10 units): every decade for wide ranges, 1-2-5 steps for narrower ones.</summary>
    static double[] LogTicks(double lo, double hi)
    {
        var decades = Enumerable.Range((int)Math.Ceiling(lo), Math.Max(0, (int)Math.Floor(hi) - (int)Math.Ceiling(lo) + 1)).Select(k => (double)k).ToArray();
        if (hi - lo > 3.5) return decades;
        // Up to about three decades: label the 1-2-5 points within the range.
        return Enumerable.Range((int)Math.Floor(lo) - 1, (int)Math.Ceiling(hi) - (int)Math.Floor(lo) + 2)
            .SelectMany(k => new[] { k, k + Math.Log10(2), k + Math.Log10(5) }).Where(t => t >= lo && t <= hi).ToArray();
    }

    static string TickLabel(double t, bool log) => log ? Number(Math.Pow(10, t)) : Number(t);

    static string Number(double v) => v == 0 ? "0" : Math.Abs(v) >= 1e4 || Math.Abs(v) < 1e-3 ? v.ToString("0.#E+0", Ci) : v.ToString("0.####", Ci);

    static string Esc(string s) => SecurityElement.Escape(s) ?? "";
}
