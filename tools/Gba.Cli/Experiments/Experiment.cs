using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Experiments;

/// <summary>small: a CI-sized version that finishes in seconds and shows the direction of the result;
/// full: the size docs/experiments.md reports (the paper's setup where this machine allows).</summary>
public enum ExperimentSize
{
    Small,
    Full,
}

/// <summary>What every experiment is given. <paramref name="Seeds"/> overrides each experiment's own number of seeds;
/// <paramref name="Kernels"/> is the kernel set of every trainer and model it builds (null: the default).
/// <paramref name="Steps"/> and <paramref name="Methods"/> override the training steps and narrow the methods of the
/// experiments that take them (<see cref="IExperiment.TakesStepsAndMethods"/>): the real-data experiments, whose
/// honest budget (≥ 1,000 bias updates) is too long to run for every method by default.</summary>
public sealed record ExperimentContext(ExperimentSize Size, int Threads, ulong Seed, TextWriter Log, string? DataPath = null, int? Seeds = null,
    Kernels.KernelSet? Kernels = null, int? Steps = null, IReadOnlyList<string>? Methods = null)
{
    public bool Full => Size == ExperimentSize.Full;

    /// <summary>The seeds of a setting: <see cref="Seeds"/> if given, else the experiment's own count; from <see cref="Seed"/> on.</summary>
    public ulong[] SeedList(int count) => Enumerable.Range(0, Seeds ?? count).Select(i => Seed + (ulong)i).ToArray();

    /// <summary>Picks the small or the full value of a setting.</summary>
    public T Pick<T>(T small, T full) => Full ? full : small;

    /// <summary>The training steps: <see cref="Steps"/> if given, else the experiment's own.</summary>
    public int StepsOr(int own) => Steps ?? own;

    /// <summary>The methods to run: those named in <see cref="Methods"/> (case-insensitive), else all of them.</summary>
    public IReadOnlyList<MethodSpec> Only(IReadOnlyList<MethodSpec> methods) =>
        Methods is null ? methods : methods.Where(m => Methods.Contains(m.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
}

/// <summary>One of the paper's claims, reproduced: a named experiment that writes a report.</summary>
public interface IExperiment
{
    /// <summary>The name on the command line (`gba experiment NAME`).</summary>
    string Name { get; }
    string Title { get; }

    /// <summary>Whether the experiment honours <see cref="ExperimentContext.Steps"/> and <see cref="ExperimentContext.Methods"/>.</summary>
    bool TakesStepsAndMethods => false;

    ExperimentReport Run(ExperimentContext context);
}

/// <summary>
/// An experiment's output: a markdown section (tables, plot links, settings), SVG plots and the raw
/// numbers as JSON (what the CI tests read). Written as NAME.md, NAME-*.svg and NAME.json.
/// </summary>
public sealed class ExperimentReport(string name, string title)
{
    readonly List<(string File, string Svg)> _plots = [];

    public string Name { get; } = name;
    public string Title { get; } = title;
    public StringBuilder Markdown { get; } = new();
    public JsonObject Data { get; } = new();
    public IReadOnlyList<(string File, string Svg)> Plots => _plots;

    public void Line(string text = "") => Markdown.AppendLine(text);

    /// <summary>A markdown table; cells already formatted.</summary>
    public void Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        Line("| " + string.Join(" | ", header) + " |");
        Line("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var r in rows) Line("| " + string.Join(" | ", r) + " |");
        Line();
    }

    /// <summary>Adds a plot saved as NAME-suffix.svg and links it from the markdown.</summary>
    public void Plot(string suffix, string svg, string caption)
    {
        string file = $"{Name}-{suffix}.svg";
        _plots.Add((file, svg));
        Line($"![{caption}]({file})");
        Line();
    }

    /// <summary>Writes every file through a temporary name and a rename, so none is ever half-written.</summary>
    public IReadOnlyList<string> Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Save(string file, string text)
        {
            var path = Path.Combine(directory, file);
            var tmp = path + ".tmp-" + Environment.ProcessId;
            File.WriteAllText(tmp, text);
            File.Move(tmp, path, overwrite: true);
            written.Add(path);
        }
        foreach (var (file, svg) in _plots) Save(file, svg);
        Save(Name + ".json", Data.ToResultJson(new JsonSerializerOptions { WriteIndented = true }));
        Save(Name + ".md", $"## {Title}\n\n" + Markdown);
        return written;
    }

    /// <summary>Invariant-culture number formatting for tables.</summary>
    public static string F(double v, string format = "F3") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "n/a";
}
