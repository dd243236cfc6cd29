using System.Globalization;
using System.Text;
using System.Text.Json;
using GbaEngine.Activations;
using GbaEngine.Cli.Options;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// gba inspect FILE... [--json] [--dtype f32|f16|bf16|f64 --dim d] [--tensor NAME]
/// Parses arguments, asks <see cref="ActivationInspector"/>, prints a table (or, with --json, one JSON
/// object as the last stdout line, for scripts).
/// </summary>
public static class InspectCommand
{
    /// <summary>`gba inspect`'s options: the loader's format flags.</summary>
    public static readonly OptionSchema Schema = new("inspect",
        "shape, dtype, norms, variance outliers and NaN/inf counts of activation files",
        [SharedOptions.RawDType, SharedOptions.Dim, SharedOptions.Tensor, SharedOptions.Json])
    {
        Usage = ["FILE|DIR|GLOB... [--json] [--dtype f32|f16|bf16|f64 --dim D] [--tensor NAME]"],
        Notes = "Shape, dtype, token count, token norms, per-dimension variance outliers and NaN/inf counts, per file and in total.",
    };

    /// <summary>Runs `gba inspect` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Positional.Count == 0) throw new UsageException("no files given");
        var report = ActivationInspector.Inspect(o.Positional, SharedOptions.ReadFormat(o));
        bool json = o.Flag(SharedOptions.Json.Flag);
        if (json) stdout.WriteLine(ToJson(report));
        else WriteTable(report, stdout);
        return CliApp.Ok;
    }

    static string F(double x, string format = "0.###") => double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    static string Outliers(ActivationStats s) =>
        s.OutlierDims.Count == 0 ? "none" : string.Join(", ", s.OutlierDims.Take(8).Select(o => $"{o.Index} ({F(o.RatioToMedian, "0.#")}x)")) + (s.OutlierDims.Count > 8 ? $", +{s.OutlierDims.Count - 8} more" : "");

    static void WriteTable(DatasetInspection r, TextWriter w)
    {
        var rows = new List<string[]> { new[] { "file", "format", "dtype", "shape", "tokens", "mean|x|", "max|x|", "non-finite rows", $"dims with variance > {ActivationInspector.DefaultOutlierFactor}x median" } };
        foreach (var s in r.Shards)
            rows.Add([s.Path + (s.TensorName is null ? "" : $" [{s.TensorName}]"), s.Format.ToString().ToLowerInvariant(), s.DType.Name(),
                "[" + string.Join(", ", s.Shape) + "]", s.Stats.Rows.ToString(CultureInfo.InvariantCulture), F(s.Stats.MeanNorm), F(s.Stats.MaxNorm),
                s.Stats.NonFiniteRows.ToString(CultureInfo.InvariantCulture), Outliers(s.Stats)]);
        if (r.Shards.Count > 1 && r.Total is { } t)
            rows.Add([$"total ({r.Shards.Count} files)", "", "", $"[{r.Tokens}, {r.Dim}]", t.Rows.ToString(CultureInfo.InvariantCulture),
                F(t.MeanNorm), F(t.MaxNorm), t.NonFiniteRows.ToString(CultureInfo.InvariantCulture), Outliers(t)]);
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(row => row[c].Length)).ToArray();
        foreach (var row in rows)
        {
            var line = new StringBuilder();
            for (int c = 0; c < row.Length; c++)
            {
                bool numeric = c is >= 4 and <= 7;
                line.Append(numeric ? row[c].PadLeft(widths[c]) : row[c].PadRight(widths[c]));
                if (c < row.Length - 1) line.Append("  ");
            }
            w.WriteLine(line.ToString().TrimEnd());
        }
        if (r.Total is { } total)
            w.WriteLine($"median per-dimension variance {F(total.MedianVariance, "0.####")}; {total.NonFiniteValues} non-finite values in {total.NonFiniteRows} rows");
        else
            w.WriteLine("files of different widths d: no combined total (they cannot be one training set)");
    }

    static string ToJson(DatasetInspection r)
    {
        using var buffer = new MemoryStream();
        using (var j = new Utf8JsonWriter(buffer))
        {
            j.WriteStartObject();
            if (r.Dim is { } dim) j.WriteNumber("dim", dim);
            else j.WriteNull("dim");
            j.WriteNumber("tokens", r.Tokens);
            j.WriteStartArray("files");
            foreach (var s in r.Shards)
            {
                j.WriteStartObject();
                j.WriteString("path", s.Path);
                j.WriteString("format", s.Format.ToString().ToLowerInvariant());
                j.WriteString("dtype", s.DType.Name());
                j.WriteNumber("dim", s.Stats.Dim);
                if (s.TensorName is not null) j.WriteString("tensor", s.TensorName);
                j.WriteStartArray("shape");
                foreach (var x in s.Shape) j.WriteNumberValue(x);
                j.WriteEndArray();
                WriteStats(j, s.Stats);
                j.WriteEndObject();
            }
            j.WriteEndArray();
            if (r.Total is { } total)
            {
                j.WriteStartObject("total");
                WriteStats(j, total);
                j.WriteEndObject();
            }
            else j.WriteNull("total");
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static void WriteStats(Utf8JsonWriter j, ActivationStats s)
    {
        j.WriteNumber("tokens", s.Rows);
        Number(j, "mean_norm", s.MeanNorm);
        Number(j, "max_norm", s.MaxNorm);
        j.WriteNumber("nonfinite_rows", s.NonFiniteRows);
        j.WriteNumber("nonfinite_values", s.NonFiniteValues);
        Number(j, "median_variance", s.MedianVariance);
        j.WriteNumber("outlier_factor", ActivationInspector.DefaultOutlierFactor);
        j.WriteStartArray("outlier_dims");
        foreach (var o in s.OutlierDims)
        {
            j.WriteStartObject();
            j.WriteNumber("dim", o.Index);
            j.WriteNumber("variance", o.Variance);
            j.WriteNumber("ratio", o.RatioToMedian);
            j.WriteEndObject();
        }
        j.WriteEndArray();
    }

    static void Number(Utf8JsonWriter j, string name, double x)
    {
        if (double.IsFinite(x)) j.WriteNumber(name, x);
        else j.WriteNull(name);
    }
}
