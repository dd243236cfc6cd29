using System.Globalization;

namespace GbaEngine.Charts;

/// <summary>
/// One plot axis: maps data values to pixels (linear or log10) and chooses tick positions and
/// labels: 1-2-5 steps on a linear axis, decades (with 2 and 5 between when few decades) on a log axis.
/// </summary>
public sealed class Axis
{
    public Axis(double min, double max, bool log, double pixelFrom, double pixelTo, bool pad = true)
    {
        Log = log;
        if (log)
        {
            min = Math.Log10(min);
            max = Math.Log10(max);
        }
        if (!double.IsFinite(min) || !double.IsFinite(max)) (min, max) = (0, 1);
        if (max - min < 1e-12)
        {
            double w = Math.Max(Math.Abs(min) * 0.1, log ? 0.5 : 1e-3);
            min -= w; max += w;
        }
        else if (pad)
        {
            double w = (max - min) * 0.04;
            min -= w; max += w;
        }
        if (log) { min = Math.Floor(min * 2) / 2; max = Math.Ceiling(max * 2) / 2; }
        Min = min; Max = max; PixelFrom = pixelFrom; PixelTo = pixelTo;
    }

    public bool Log { get; }
    /// <summary>The range in axis units (log10 of the value for a log axis).</summary>
    public double Min { get; }
    public double Max { get; }
    public double PixelFrom { get; }
    public double PixelTo { get; }

    public double Map(double v)
    {
        double u = Log ? Math.Log10(v) : v;
        return PixelFrom + (u - Min) / (Max - Min) * (PixelTo - PixelFrom);
    }

    /// <summary>True when the value can be placed on this axis (log axes drop v ≤ 0).</summary>
    public bool Accepts(double v) => double.IsFinite(v) && (!Log || v > 0);

    public IReadOnlyList<(double Value, string Label)> Ticks()
    {
        var ticks = new List<(double, string)>();
        if (Log)
        {
            int lo = (int)Math.Ceiling(Min - 1e-9), hi = (int)Math.Floor(Max + 1e-9);
            int decades = hi - lo + 1;
            int step = Math.Max(1, (int)Math.Ceiling(decades / 8.0));
            for (int e = lo; e <= hi; e += step) ticks.Add((Math.Pow(10, e), Format(Math.Pow(10, e))));
            if (decades <= 2)
                for (int e = lo - 1; e <= hi; e++)
                    foreach (var m in new[] { 2.0, 5.0 })
                    {
                        double v = m * Math.Pow(10, e);
                        double u = Math.Log10(v);
                        if (u >= Min && u <= Max) ticks.Add((v, Format(v)));
                    }
            ticks.Sort((a, b) => a.Item1.CompareTo(b.Item1));
            return ticks;
        }
        double span = Max - Min;
        double raw = span / 6;
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double stepLin = new[] { 1.0, 2.0, 5.0, 10.0 }.Select(f => f * mag).First(s => s >= raw);
        double start = Math.Ceiling(Min / stepLin) * stepLin;
        for (int i = 0; ; i++)
        {
            double v = start + i * stepLin;
            if (v > Max + stepLin * 1e-9) break;
            if (Math.Abs(v) < stepLin * 1e-9) v = 0;
            ticks.Add((v, Format(v)));
        }
        return ticks;
    }

    /// <summary>Compact tick text: 0.001, 1e-05, 20k, 1.5M.</summary>
    public static string Format(double v)
    {
        var ci = CultureInfo.InvariantCulture;
        double a = Math.Abs(v);
        if (a == 0) return "0";
        if (a >= 1e6) return (v / 1e6).ToString("0.##", ci) + "M";
        if (a >= 1e4) return (v / 1e3).ToString("0.##", ci) + "k";
        if (a >= 1e-3) return v.ToString("0.####", ci);
        return v.ToString("0.#e0", ci);
    }
}
