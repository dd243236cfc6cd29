using System.Globalization;
using System.Security;
using System.Text;

namespace GbaEngine.Charts;

/// <summary>A line (or marker) series of a plot.</summary>
public sealed record Series(string Name, double[] X, double[] Y, string? Color = null, bool Dashed = false, bool Markers = false, bool Line = true)
{
    /// <summary>A series from (x, y) points.</summary>
    public static Series From(string name, IReadOnlyList<(double X, double Y)> points, bool dashed = false, bool markers = true) =>
        new(name, points.Select(p => p.X).ToArray(), points.Select(p => p.Y).ToArray(), Dashed: dashed, Markers: markers);
}

/// <summary>Size, title and axis labels of a plot; <see cref="YRange"/> fixes the y axis (e.g. 0..1 for rates).</summary>
public sealed record PlotSpec(string Title, string XLabel, string YLabel, bool LogY = false, bool LogX = false, int Width = 600, int Height = 340,
    (double Min, double Max)? YRange = null);

/// <summary>
/// Self-contained SVG plots (no scripts, no external assets), the one chart module of the tools (the HTML
/// report, the experiment reports, benchmark history): line plots with log axes and reference lines,
/// histograms, grouped bars and per-group box-and-strip plots, each with axes, ticks, labels and a legend. Output is well-formed XML (text is escaped) so it can be embedded inline or saved as .svg.
/// </summary>
public static class Svg
{
    /// <summary>Colour-blind-friendly categorical palette (Okabe-Ito, then Tableau).</summary>
    public static readonly string[] Palette =
        ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF"];

    const double Left = 64, Right = 16, Top = 30, Bottom = 46;

    /// <summary>Lines (and markers) of every series, with optional dotted reference lines across (y) or up (x).</summary>
    public static string LinePlot(PlotSpec spec, IReadOnlyList<Series> series, IReadOnlyList<(double Y, string Label)>? horizontalLines = null,
        IReadOnlyList<(double X, string Label)>? verticalLines = null)
    {
        var xs = series.SelectMany(s => s.X.Zip(s.Y).Where(p => double.IsFinite(p.Second) && (!spec.LogY || p.Second > 0)).Select(p => p.First))
            .Where(v => double.IsFinite(v) && (!spec.LogX || v > 0)).ToList();
        var ys = series.SelectMany(s => s.Y).Where(v => double.IsFinite(v) && (!spec.LogY || v > 0)).ToList();
        if (horizontalLines != null) ys.AddRange(horizontalLines.Select(h => h.Y).Where(v => double.IsFinite(v) && (!spec.LogY || v > 0)));
        if (verticalLines != null) xs.AddRange(verticalLines.Select(v => v.X).Where(v => double.IsFinite(v) && (!spec.LogX || v > 0)));
        var (x, y) = Axes(spec, xs, ys);
        var sb = Begin(spec, x, y);
        var occupied = new List<(double, double)>();
        if (horizontalLines != null)
            foreach (var (hy, label) in horizontalLines)
            {
                if (!y.Accepts(hy)) continue;
                double py = y.Map(hy);
                sb.Append(Inv($"<line x1=\"{x.PixelFrom:F1}\" y1=\"{py:F1}\" x2=\"{x.PixelTo:F1}\" y2=\"{py:F1}\" stroke=\"#999\" stroke-dasharray=\"2 3\"/>"));
                sb.Append(Inv($"<text x=\"{x.PixelTo - 2:F1}\" y=\"{py - 3:F1}\" text-anchor=\"end\" font-size=\"10\" fill=\"#666\">{Esc(label)}</text>"));
            }
        if (verticalLines != null)
            foreach (var (vx, label) in verticalLines)
            {
                if (!x.Accepts(vx)) continue;
                double px = x.Map(vx);
                sb.Append(Inv($"<line x1=\"{px:F1}\" y1=\"{y.PixelFrom:F1}\" x2=\"{px:F1}\" y2=\"{y.PixelTo:F1}\" stroke=\"#999\" stroke-dasharray=\"2 3\"/>"));
                sb.Append(Inv($"<text x=\"{px + 3:F1}\" y=\"{y.PixelTo + 11:F1}\" font-size=\"10\" fill=\"#666\">{Esc(label)}</text>"));
            }
        for (int i = 0; i < series.Count; i++)
        {
            var s = series[i];
            string color = s.Color ?? Palette[i % Palette.Length];
            var pts = s.X.Zip(s.Y).Where(p => x.Accepts(p.First) && y.Accepts(p.Second)).Select(p => (X: x.Map(p.First), Y: y.Map(p.Second))).ToList();
            if (pts.Count == 0) continue;
            occupied.AddRange(pts.Select(p => (p.X, p.Y)));
            if (s.Line)
                for (int j = 1; j < pts.Count; j++)
                {
                    // Points along each segment, so a legend does not land on a line between sparse vertices.
                    double len = Math.Max(Math.Abs(pts[j].X - pts[j - 1].X), Math.Abs(pts[j].Y - pts[j - 1].Y));
                    for (double t = 4; t < len; t += 4)
                        occupied.Add((pts[j - 1].X + (pts[j].X - pts[j - 1].X) * t / len, pts[j - 1].Y + (pts[j].Y - pts[j - 1].Y) * t / len));
                }
            if (s.Line && pts.Count > 1)
                sb.Append(Inv($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.6\"{(s.Dashed ? " stroke-dasharray=\"6 4\"" : "")} points=\"{string.Join(" ", pts.Select(p => Inv($"{p.X:F1},{p.Y:F1}")))}\"/>"));
            if (s.Markers || pts.Count == 1)
                foreach (var p in pts) sb.Append(Inv($"<circle cx=\"{p.X:F1}\" cy=\"{p.Y:F1}\" r=\"2.6\" fill=\"{color}\"/>"));
        }
        Legend(sb, spec, series.Select((s, i) => (s.Name, s.Color ?? Palette[i % Palette.Length], s.Dashed)).ToList(), occupied);
        return End(sb);
    }

    /// <summary>Grouped bars: one group per category, one bar per series (NaN values are left out).</summary>
    public static string Bars(PlotSpec spec, IReadOnlyList<string> categories, IReadOnlyList<(string Name, double[] Values)> series)
    {
        int n = categories.Count;
        var values = series.SelectMany(s => s.Values).Where(double.IsFinite).Append(0).ToList();
        var x = new Axis(-0.5, n - 0.5, false, Left, spec.Width - Right, pad: false);
        var y = spec.YRange is { } r ? new Axis(r.Min, r.Max, false, spec.Height - Bottom, Top, pad: false)
            : new Axis(Math.Min(0, values.Min()), values.Max(), false, spec.Height - Bottom, Top);
        var sb = Begin(spec, x, y, categories);
        double slot = (x.PixelTo - x.PixelFrom) / Math.Max(1, n), bar = slot * 0.8 / Math.Max(1, series.Count);
        var occupied = new List<(double, double)>();
        for (int c = 0; c < n; c++)
            for (int s = 0; s < series.Count; s++)
            {
                double v = c < series[s].Values.Length ? series[s].Values[c] : double.NaN;
                if (!double.IsFinite(v)) continue;
                double px = x.Map(c) - slot * 0.4 + s * bar;
                double top = y.Map(Math.Clamp(v, y.Min, y.Max)), bottom = y.Map(Math.Max(y.Min, 0));
                for (double py = Math.Min(top, bottom); py <= Math.Max(top, bottom); py += 4) occupied.Add((px + bar / 2, py));
                sb.Append(Inv($"<rect x=\"{px:F1}\" y=\"{Math.Min(top, bottom):F1}\" width=\"{bar * 0.9:F1}\" height=\"{Math.Abs(bottom - top):F1}\" fill=\"{Palette[s % Palette.Length]}\"><title>{Esc(Inv($"{series[s].Name}, {categories[c]}: {v:G4}"))}</title></rect>"));
            }
        Legend(sb, spec, series.Select((s, i) => (s.Name, Palette[i % Palette.Length], false)).ToList(), occupied);
        return End(sb);
    }

    /// <summary>Bars over bins [edges[i], edges[i+1]) with heights counts[i]; optional vertical markers (e.g. TAFs).</summary>
    public static string Histogram(PlotSpec spec, double[] edges, double[] counts, string? color = null, IReadOnlyList<(double X, string Label)>? markers = null)
    {
        if (edges.Length != counts.Length + 1) throw new ArgumentException("A histogram needs one more edge than counts.");
        var ys = counts.Where(double.IsFinite).Append(0).ToList();
        var xs = edges.Where(e => double.IsFinite(e) && (!spec.LogX || e > 0)).ToList();
        var (x, y) = Axes(spec, xs, ys, padX: false, zeroY: true);
        var sb = Begin(spec, x, y);
        string fill = color ?? Palette[0];
        var occupied = new List<(double, double)>();
        for (int i = 0; i < counts.Length; i++)
        {
            if (!(counts[i] > 0) || !x.Accepts(edges[i]) || !x.Accepts(edges[i + 1])) continue;
            double x0 = x.Map(edges[i]), x1 = x.Map(edges[i + 1]), y0 = y.Map(0), y1 = y.Map(counts[i]);
            for (double px = x0; px <= x1; px += 4)
                for (double py = y1; py <= y0; py += 4) occupied.Add((px, py));
            sb.Append(Inv($"<rect x=\"{x0 + 0.5:F1}\" y=\"{y1:F1}\" width=\"{Math.Max(0.5, x1 - x0 - 1):F1}\" height=\"{Math.Max(0, y0 - y1):F1}\" fill=\"{fill}\" fill-opacity=\"0.6\"><title>{Esc(Inv($"[{Axis.Format(edges[i])}, {Axis.Format(edges[i + 1])}): {counts[i]:G6}"))}</title></rect>"));
        }
        if (markers != null)
            for (int i = 0; i < markers.Count; i++)
            {
                var (mx, label) = markers[i];
                if (!x.Accepts(mx)) continue;
                double px = x.Map(mx);
                string c = Palette[(i + 1) % Palette.Length];
                sb.Append(Inv($"<line x1=\"{px:F1}\" y1=\"{y.PixelFrom:F1}\" x2=\"{px:F1}\" y2=\"{y.PixelTo:F1}\" stroke=\"{c}\" stroke-width=\"2\" stroke-dasharray=\"5 3\"/>"));
            }
        if (markers is { Count: > 0 })
            Legend(sb, spec, markers.Select((m, i) => (m.Label, Palette[(i + 1) % Palette.Length], true)).ToList(), occupied);
        return End(sb);
    }

    /// <summary>
    /// One box (quartiles, whiskers at the 2.5th and 97.5th percentiles) per category with a
    /// deterministic subsample of the points jittered beside it, and an optional target per category
    /// drawn as a red tick (e.g. each group's TAF). Non-positive values are left out of log axes.
    /// </summary>
    public static string GroupStrip(PlotSpec spec, IReadOnlyList<string> categories, IReadOnlyList<double[]> values, double[]? targets = null,
        string targetLabel = "target", int maxPoints = 300)
    {
        var all = values.SelectMany(v => v).Where(v => double.IsFinite(v) && (!spec.LogY || v > 0)).ToList();
        if (targets != null) all.AddRange(targets.Where(t => double.IsFinite(t) && (!spec.LogY || t > 0)));
        int n = categories.Count;
        var x = new Axis(-0.5, n - 0.5, false, Left, spec.Width - Right, pad: false);
        var y = new Axis(all.Count == 0 ? 0 : all.Min(), all.Count == 0 ? 1 : all.Max(), spec.LogY, spec.Height - Bottom, Top);
        var sb = Begin(spec, x, y, categories);
        double slot = (x.PixelTo - x.PixelFrom) / Math.Max(1, n);
        var occupied = new List<(double, double)>();
        for (int c = 0; c < n; c++)
        {
            var v = values[c].Where(y.Accepts).OrderBy(t => t).ToArray();
            string color = Palette[c % Palette.Length];
            double cx = x.Map(c);
            if (v.Length > 0)
            {
                double q(double p) => v[(int)Math.Clamp(Math.Round(p * (v.Length - 1)), 0, v.Length - 1)];
                double bw = Math.Min(28, slot * 0.35);
                double bx = cx - bw - 2;
                double w0 = y.Map(q(0.025)), w1 = y.Map(q(0.975)), q1 = y.Map(q(0.25)), q3 = y.Map(q(0.75)), med = y.Map(q(0.5));
                sb.Append(Inv($"<line x1=\"{bx + bw / 2:F1}\" y1=\"{w0:F1}\" x2=\"{bx + bw / 2:F1}\" y2=\"{w1:F1}\" stroke=\"{color}\"/>"));
                sb.Append(Inv($"<rect x=\"{bx:F1}\" y=\"{Math.Min(q1, q3):F1}\" width=\"{bw:F1}\" height=\"{Math.Abs(q1 - q3):F1}\" fill=\"{color}\" fill-opacity=\"0.25\" stroke=\"{color}\"/>"));
                sb.Append(Inv($"<line x1=\"{bx:F1}\" y1=\"{med:F1}\" x2=\"{bx + bw:F1}\" y2=\"{med:F1}\" stroke=\"{color}\" stroke-width=\"2\"/>"));
                int stride = Math.Max(1, (v.Length + maxPoints - 1) / maxPoints);
                for (int i = 0; i < v.Length; i += stride)
                {
                    double jitter = Jitter(i) * bw, py = y.Map(v[i]);
                    occupied.Add((cx + 2 + jitter, py));
                    sb.Append(Inv($"<circle cx=\"{cx + 2 + jitter:F1}\" cy=\"{py:F1}\" r=\"1.4\" fill=\"{color}\" fill-opacity=\"0.55\"/>"));
                }
            }
            if (targets != null && c < targets.Length && y.Accepts(targets[c]))
            {
                double ty = y.Map(targets[c]);
                occupied.Add((cx - slot * 0.4, ty));
                occupied.Add((cx, ty));
                occupied.Add((cx + slot * 0.4, ty));
                sb.Append(Inv($"<line x1=\"{cx - slot * 0.45:F1}\" y1=\"{ty:F1}\" x2=\"{cx + slot * 0.45:F1}\" y2=\"{ty:F1}\" stroke=\"#D00\" stroke-width=\"2\"/>"));
            }
        }
        if (targets != null) Legend(sb, spec, [(targetLabel, "#D00", false)], occupied);
        return End(sb);
    }

    static (Axis X, Axis Y) Axes(PlotSpec spec, List<double> xs, List<double> ys, bool padX = true, bool zeroY = false)
    {
        double x0 = xs.Count == 0 ? (spec.LogX ? 1 : 0) : xs.Min(), x1 = xs.Count == 0 ? (spec.LogX ? 10 : 1) : xs.Max();
        double y0 = ys.Count == 0 ? (spec.LogY ? 1 : 0) : ys.Min(), y1 = ys.Count == 0 ? (spec.LogY ? 10 : 1) : ys.Max();
        if (zeroY && !spec.LogY) y0 = Math.Min(0, y0);
        var x = new Axis(x0, x1, spec.LogX, Left, spec.Width - Right, padX);
        var y = spec.YRange is { } r ? new Axis(r.Min, r.Max, spec.LogY, spec.Height - Bottom, Top, pad: false)
            : new Axis(y0, y1, spec.LogY, spec.Height - Bottom, Top, !zeroY);
        return (x, y);
    }

    static StringBuilder Begin(PlotSpec spec, Axis x, Axis y, IReadOnlyList<string>? categories = null)
    {
        var sb = new StringBuilder();
        sb.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"{spec.Width}\" height=\"{spec.Height}\" viewBox=\"0 0 {spec.Width} {spec.Height}\" font-family=\"sans-serif\" font-size=\"11\">"));
        sb.Append(Inv($"<title>{Esc(spec.Title)}</title>"));
        sb.Append(Inv($"<rect x=\"0\" y=\"0\" width=\"{spec.Width}\" height=\"{spec.Height}\" fill=\"#fff\"/>"));
        sb.Append(Inv($"<text x=\"{spec.Width / 2.0:F1}\" y=\"17\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">{Esc(spec.Title)}</text>"));
        double yBottom = y.PixelFrom, yTop = y.PixelTo;
        // Grid and ticks.
        foreach (var (v, label) in y.Ticks())
        {
            double py = y.Map(v);
            sb.Append(Inv($"<line x1=\"{x.PixelFrom:F1}\" y1=\"{py:F1}\" x2=\"{x.PixelTo:F1}\" y2=\"{py:F1}\" stroke=\"#e6e6e6\"/>"));
            sb.Append(Inv($"<line x1=\"{x.PixelFrom - 4:F1}\" y1=\"{py:F1}\" x2=\"{x.PixelFrom:F1}\" y2=\"{py:F1}\" stroke=\"#333\"/>"));
            sb.Append(Inv($"<text x=\"{x.PixelFrom - 6:F1}\" y=\"{py + 3.5:F1}\" text-anchor=\"end\">{Esc(label)}</text>"));
        }
        if (categories != null)
            for (int c = 0; c < categories.Count; c++)
            {
                double px = x.Map(c);
                // A category label may have a second line (e.g. the group's TAF), drawn smaller below the first.
                var parts = categories[c].Split('\n');
                sb.Append(Inv($"<text x=\"{px:F1}\" y=\"{yBottom + 15:F1}\" text-anchor=\"middle\">{Esc(parts[0])}"));
                for (int i = 1; i < parts.Length; i++) sb.Append(Inv($"<tspan x=\"{px:F1}\" dy=\"12\" font-size=\"9\" fill=\"#555\">{Esc(parts[i])}</tspan>"));
                sb.Append("</text>");
            }
        else
            foreach (var (v, label) in x.Ticks())
            {
                double px = x.Map(v);
                sb.Append(Inv($"<line x1=\"{px:F1}\" y1=\"{yBottom:F1}\" x2=\"{px:F1}\" y2=\"{yBottom + 4:F1}\" stroke=\"#333\"/>"));
                sb.Append(Inv($"<text x=\"{px:F1}\" y=\"{yBottom + 15:F1}\" text-anchor=\"middle\">{Esc(label)}</text>"));
            }
        sb.Append(Inv($"<line x1=\"{x.PixelFrom:F1}\" y1=\"{yBottom:F1}\" x2=\"{x.PixelTo:F1}\" y2=\"{yBottom:F1}\" stroke=\"#333\"/>"));
        sb.Append(Inv($"<line x1=\"{x.PixelFrom:F1}\" y1=\"{yBottom:F1}\" x2=\"{x.PixelFrom:F1}\" y2=\"{yTop:F1}\" stroke=\"#333\"/>"));
        sb.Append(Inv($"<text x=\"{(x.PixelFrom + x.PixelTo) / 2:F1}\" y=\"{spec.Height - (categories != null ? 4 : 8):F1}\" text-anchor=\"middle\">{Esc(spec.XLabel + (spec.LogX ? " (log scale)" : ""))}</text>"));
        sb.Append(Inv($"<text transform=\"translate(14 {(yBottom + yTop) / 2:F1}) rotate(-90)\" text-anchor=\"middle\">{Esc(spec.YLabel + (spec.LogY ? " (log scale)" : ""))}</text>"));
        return sb;
    }

    /// <summary>A deterministic, well-spread horizontal offset in [0, 1) for strip point i (a 64-bit mix of i).</summary>
    static double Jitter(int i)
    {
        ulong z = (ulong)i * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (z ^ (z >> 31)) / (double)ulong.MaxValue;
    }

    /// <summary>Draws the legend in whichever plot corner covers the fewest drawn points.</summary>
    static void Legend(StringBuilder sb, PlotSpec spec, IReadOnlyList<(string Name, string Color, bool Dashed)> items, IReadOnlyList<(double X, double Y)> occupied)
    {
        items = items.Where(i => !string.IsNullOrEmpty(i.Name)).ToList();
        if (items.Count == 0) return;
        int cols = items.Count > 6 ? 2 : 1;
        int rows = (items.Count + cols - 1) / cols;
        double colWidth = Math.Min(170, items.Max(i => i.Name.Length) * 6.2 + 34);
        double w = colWidth * cols + 8, h = rows * 15 + 6;
        var corners = new[]
        {
            (X: spec.Width - Right - w - 4, Y: Top + 4), (X: Left + 6, Y: Top + 4),
            (X: spec.Width - Right - w - 4, Y: spec.Height - Bottom - h - 4), (X: Left + 6, Y: spec.Height - Bottom - h - 4),
        };
        var (lx, ly) = corners.OrderBy(c => occupied.Count(p => p.X >= c.X - 2 && p.X <= c.X + w + 2 && p.Y >= c.Y - 2 && p.Y <= c.Y + h + 2)).First();
        sb.Append(Inv($"<g class=\"legend\"><rect x=\"{lx:F1}\" y=\"{ly:F1}\" width=\"{w:F1}\" height=\"{h:F1}\" fill=\"#fff\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>"));
        for (int i = 0; i < items.Count; i++)
        {
            var (name, color, dashed) = items[i];
            double ix = lx + 6 + (i / rows) * colWidth, iy = ly + 12 + (i % rows) * 15;
            sb.Append(Inv($"<line x1=\"{ix:F1}\" y1=\"{iy - 4:F1}\" x2=\"{ix + 20:F1}\" y2=\"{iy - 4:F1}\" stroke=\"{color}\" stroke-width=\"2\"{(dashed ? " stroke-dasharray=\"4 3\"" : "")}/>"));
            sb.Append(Inv($"<text x=\"{ix + 25:F1}\" y=\"{iy:F1}\">{Esc(name)}</text>"));
        }
        sb.Append("</g>");
    }

    static string End(StringBuilder sb) => sb.Append("</svg>").ToString();

    /// <summary>Escapes text for XML content and attributes.</summary>
    public static string Esc(string s) => SecurityElement.Escape(s) ?? "";

    static string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
}
