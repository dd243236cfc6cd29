using System.Globalization;
using System.Text;
using System.Text.Json;
using GbaEngine.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// gba inspect FILE... [--json] [--dtype f32|f16|bf16|f64 --dim d] [--tensor NAME]
/// Parses arguments, asks <see cref="ActivationInspector"/>, prints a table (or, with --json, one JSON
/// object as the last stdout line, for scripts). Exit codes: 0 ok, 1 bad input (one line
/// "gba inspect: message" on stderr), 2 bad usage.
/// </summary>
public static class InspectCommand
{
    public const string Usage =
        "usage: gba inspect FILE|DIR|GLOB... [--json] [--dtype f32|f16|bf16|f64 --dim D] [--tensor NAME]\n" +
        "  Shape, dtype, token count, token norms, per-dimension variance outliers and NaN/inf counts.\n" +
        "  --dtype/--dim describe raw little-endian binary files; --tensor picks a safetensors tensor.";

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var paths = new List<string>();
        bool json = false;
        string? dtypeText = null, dimText = null, tensor = null;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            switch (a)
            {
                case "-h" or "--help":
                    stdout.WriteLine(Usage);
                    return 0;
                case "--json": json = true; break;
                case "--dtype" or "--dim" or "--tensor":
                    if (i + 1 >= args.Count) return UsageError(stderr, $"{a} needs a value");
                    string v = args[++i];
                    if (a == "--dtype") dtypeText = v;
                    else if (a == "--dim") dimText = v;
                    else tensor = v;
                    break;
                default:
                    if (a.StartsWith('-') && a.Length > 1) return UsageError(stderr, $"unknown option '{a}'");
                    paths.Add(a);
                    break;
            }
        }
        if (paths.Count == 0) return UsageError(stderr, "no files given");
        if (dtypeText is null != dimText is null) return UsageError(stderr, "raw files need both --dtype and --dim");
        ActivationDType? dtype = null;
        int? dim = null;
        if (dtypeText is not null)
        {
            dtype = ActivationDTypes.TryParse(dtypeText);
            if (dtype is null) return UsageError(stderr, $"--dtype '{dtypeText}': expected f32, f16, bf16 or f64");
            if (!int.TryParse(dimText, NumberStyles.None, CultureInfo.InvariantCulture, out int d) || d < 1)
                return UsageError(stderr, $"--dim '{dimText}': expected a positive integer");
            dim = d;
        }

        DatasetInspection report;
        try
        {
            report = ActivationInspector.Inspect(paths, new LoaderOptions { RawDType = dtype, RawDim = dim, TensorName = tensor });
        }
        catch (ActivationFormatException e)
        {
            stderr.WriteLine($"gba inspect: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"gba inspect: {e.Message}");
            return 1;
        }

        if (json) stdout.WriteLine(ToJson(report));
        else WriteTable(report, stdout);
        return 0;
    }

    static int UsageError(TextWriter stderr, string message)
    {
        // One line, as every other command's usage errors: --help prints the usage.
        stderr.WriteLine($"gba inspect: {message} (run 'gba inspect --help' for the usage)");
        return 2;
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
