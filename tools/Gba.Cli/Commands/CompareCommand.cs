using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Runs;
using GbaEngine.Evaluation;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba compare RUN RUN...`: the paper's maximum-cosine-similarity consistency between runs. For each
/// ordered pair (A, B), each neuron of A gets its best decoder cosine with B; the table gives the
/// fractions above 0.6/0.7/0.8/0.9 over all of A's neurons and over A's top 0.3% and 0.05% by maximum
/// activation (from A's neurons.json, which `gba train --out` writes; a bare SAE directory gets the
/// "all" row only).
/// </summary>
public static class CompareCommand
{
    /// <summary>`gba compare`'s options.</summary>
    public static readonly OptionSchema Schema = new("compare", "MCS consistency between the SAEs of two or more runs",
        [SharedOptions.Threads, SharedOptions.Json])
    {
        Usage = ["RUN_DIR RUN_DIR [RUN_DIR...] [--json] [--threads T]"],
        Notes = """
            RUN_DIR is a `gba train --out` directory (sae/ + neurons.json) or an SAE directory (SAELens layout).
            For every ordered pair A -> B: the fraction of A's neurons whose decoder direction has a cosine above
            0.6/0.7/0.8/0.9 with some decoder direction of B, over all of A's neurons and over A's top 0.3% and
            0.05% by maximum activation on A's evaluation tokens (needs A's neurons.json).
            --json's line: {"pairs": [{"a", "b", "rows": [{"subset", "neurons", "above_0_6", ...}]}]}
            """,
    };

    /// <summary>Runs `gba compare` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        if (o.Positional.Count < 2) throw new UsageException("give at least two run directories");
        int threads = SharedOptions.ReadThreads(o);
        var runs = o.Positional.Select(dir =>
        {
            var (rows, m, d) = RunDirectory.ReadDecoder(dir);
            var neurons = RunDirectory.ReadNeurons(dir);
            var max = RunDirectory.Floats(neurons, "max_activation", Path.Combine(dir, RunArtefacts.NeuronsFile));
            if (max != null && max.Length != m)
                throw new InvalidDataException($"{Path.Combine(dir, RunArtefacts.NeuronsFile)}: {max.Length} max activations for {m} neurons.");
            return (Dir: dir, Rows: rows, M: m, D: d, Max: max);
        }).ToList();
        foreach (var r in runs.Skip(1))
            if (r.D != runs[0].D) throw new InvalidDataException($"{r.Dir}: d = {r.D}, but {runs[0].Dir} has d = {runs[0].D}; only SAEs of the same activations compare.");

        var pairs = new JsonArray();
        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine("A -> B                          subset      neurons   >0.6    >0.7    >0.8    >0.9");
        for (int i = 0; i < runs.Count; i++)
            for (int j = 0; j < runs.Count; j++)
            {
                if (i == j) continue;
                var (a, b) = (runs[i], runs[j]);
                var table = Consistency.Compare(a.Rows, a.M, b.Rows, b.M, a.D, a.D, b.D, a.Max ?? [], threads);
                string name = $"{Short(a.Dir)} -> {Short(b.Dir)}";
                foreach (var row in table)
                    stdout.WriteLine(string.Create(ci, $"{name,-30}  {row.Subset,-10}  {row.Neurons,7}  {row.Above06,6:F4}  {row.Above07,6:F4}  {row.Above08,6:F4}  {row.Above09,6:F4}"));
                pairs.Add(new JsonObject
                {
                    ["a"] = a.Dir, ["b"] = b.Dir,
                    ["rows"] = new JsonArray(table.Select(r => (JsonNode)new JsonObject
                    {
                        ["subset"] = r.Subset, ["neurons"] = r.Neurons,
                        ["above_0_6"] = r.Above06, ["above_0_7"] = r.Above07, ["above_0_8"] = r.Above08, ["above_0_9"] = r.Above09,
                    }).ToArray()),
                });
            }
        if (o.Flag(SharedOptions.Json.Flag)) stdout.WriteLine(new JsonObject { ["pairs"] = pairs }.ToResultJson());
        return CliApp.Ok;
    }

    static string Short(string dir)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(dir));
        return name.Length > 14 ? name[..13] + "~" : name;
    }
}
