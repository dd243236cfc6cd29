using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Charts;
using GbaEngine.Evaluation;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>A metric over several runs: the median and the range, so a table shows the spread and not one seed.</summary>
public readonly record struct Spread(double Median, double Min, double Max, int Runs)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var v = values.Where(double.IsFinite).Order().ToArray();
        if (v.Length == 0) return new(double.NaN, double.NaN, double.NaN, 0);
        double median = v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
        return new(median, v[0], v[^1], v.Length);
    }

    /// <summary>"median [min–max]", or the one value for a single run.</summary>
    public string Cell(string format = "F3") => Runs == 0 ? "n/a"
        : Runs == 1 || Min == Max ? ExperimentReport.F(Median, format)
        : $"{ExperimentReport.F(Median, format)} [{ExperimentReport.F(Min, format)}–{ExperimentReport.F(Max, format)}]";

    public JsonObject ToJson() => new() { ["median"] = Num(Median), ["min"] = Num(Min), ["max"] = Num(Max), ["runs"] = Runs };

    static JsonNode? Num(double v) => double.IsFinite(v) ? v : null;
}

/// <summary>One training run of an experiment: its seed, threads and what the trainer reported, every evaluation included.</summary>
public sealed record SeedRun(ulong Seed, int Threads, TrainingResult Result)
{
    /// <summary>Tokens at the first evaluation where <paramref name="metric"/> reached <paramref name="level"/>; null if it never did.</summary>
    public long? TokensTo(Func<EvaluationMetrics, double?> metric, double level) =>
        Result.Evaluations.FirstOrDefault(e => metric(e.Metrics) >= level)?.Tokens;

    /// <summary>Final metrics and the whole learning curve as JSON.</summary>
    public JsonObject ToJson(string method, string setting)
    {
        var json = ExperimentRuns.Metrics(Result, method, setting);
        json["seed"] = Seed;
        json["threads"] = Threads;
        json["tokens_to_frr_0_9"] = TokensTo(m => m.Frr09, 0.9);
        return json;
    }
}

/// <summary>A method's runs over seeds (and thread counts) on one problem, with the spread of every figure.</summary>
public sealed class MethodRuns(string label, MethodSpec method)
{
    /// <summary>The row name in tables and legends.</summary>
    public string Label { get; } = label;
    public MethodSpec Method { get; } = method;
    public List<SeedRun> Runs { get; } = [];

    public Spread Final(Func<EvaluationMetrics, double?> metric) => Spread.Of(Runs.Select(r => metric(r.Result.Final) ?? double.NaN));

    /// <summary>Tokens to FRR@0.9 ≥ 0.9 over the runs; a run that never got there counts as +∞, so the median says
    /// whether most runs did and the range shows any that did not.</summary>
    public Spread TokensToRecovery()
    {
        var v = Runs.Select(r => r.TokensTo(m => m.Frr09, 0.9) is { } t ? (double)t : double.PositiveInfinity).Order().ToArray();
        if (v.Length == 0) return new(double.NaN, double.NaN, double.NaN, 0);
        double median = v.Length % 2 == 1 ? v[v.Length / 2] : 0.5 * (v[v.Length / 2 - 1] + v[v.Length / 2]);
        return new(median, v[0], v[^1], v.Length);
    }

    /// <summary>How many runs reached FRR@0.9 ≥ 0.9, as "r/n".</summary>
    public string Reached => $"{Runs.Count(r => r.TokensTo(m => m.Frr09, 0.9) is not null)}/{Runs.Count}";

    /// <summary>The median over runs of a metric at each evaluation (runs of one method share their evaluation steps).</summary>
    public Series MedianCurve(Func<EvaluationMetrics, double?> metric, bool dashed = false)
    {
        var points = Runs[0].Result.Evaluations.Select((e, i) => (
            X: (double)e.Tokens,
            Y: Spread.Of(Runs.Where(r => i < r.Result.Evaluations.Count).Select(r => metric(r.Result.Evaluations[i].Metrics) ?? double.NaN)).Median)).ToArray();
        return Series.From(Label, points, dashed, markers: false);
    }

    public JsonObject ToJson() => new()
    {
        ["label"] = Label, ["method"] = Method.Name, ["setting"] = Method.Setting,
        ["frr_0_8"] = Final(m => m.Frr08).ToJson(), ["frr_0_9"] = Final(m => m.Frr09).ToJson(),
        ["fvu"] = Final(m => m.Fvu).ToJson(), ["l0"] = Final(m => m.L0).ToJson(), ["dead_fraction"] = Final(m => m.DeadFraction).ToJson(),
        ["tokens_to_frr_0_9"] = TokensToRecovery().ToJson(), ["reached_frr_0_9"] = Reached,
        ["runs"] = new JsonArray(Runs.Select(r => (JsonNode)r.ToJson(Method.Name, Method.Setting)).ToArray()),
    };

    /// <summary>A tokens figure in millions, "never" for +∞.</summary>
    public static string Millions(double tokens) =>
        double.IsPositiveInfinity(tokens) ? "never" : double.IsNaN(tokens) ? "n/a" : (tokens / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M";

    public static string MillionsCell(Spread s) =>
        s.Runs == 0 ? "n/a" : s.Runs == 1 || s.Min == s.Max ? Millions(s.Median) : $"{Millions(s.Median)} [{Millions(s.Min)}–{Millions(s.Max)}]";
}
