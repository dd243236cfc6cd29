using System.Runtime.CompilerServices;
using GbaEngine.Cli.Options;
using GbaEngine.Training;

namespace GbaEngine.Cli.Tests;

/// <summary>The defaults table a user reads ("Defaults and why") is the code's: every row's default equals what the option schema resolves for a default run.</summary>
public class ReadmeDefaultsTests
{
    const string Heading = "## Defaults and why";

    /// <summary>The table rows (option, default) under <see cref="Heading"/> in README.md or a guide in docs/.</summary>
    static List<(string Option, string Default)> Rows([CallerFilePath] string thisFile = "")
    {
        string root = Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..");
        var files = new[] { Path.Combine(root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md"));
        var lines = files.Select(File.ReadAllLines).FirstOrDefault(l => l.Any(x => x.StartsWith(Heading, StringComparison.Ordinal)));
        Assert.True(lines is not null, $"no '{Heading}' section in README.md or docs/*.md");
        int at = Array.FindIndex(lines!, x => x.StartsWith(Heading, StringComparison.Ordinal));
        var rows = new List<(string, string)>();
        foreach (var line in lines!.Skip(at + 1).SkipWhile(l => !l.StartsWith('|')).TakeWhile(l => l.StartsWith('|')))
        {
            var cells = line.Split('|').Select(c => c.Trim()).ToArray();
            if (cells.Length > 2 && cells[1].StartsWith("`--", StringComparison.Ordinal)) rows.Add((cells[1].Trim('`')[2..], cells[2]));
        }
        return rows;
    }

    [Fact]
    public void EveryDefaultInTheTableIsTheCodesDefault()
    {
        var rows = Rows();
        Assert.True(rows.Count >= 10, $"only {rows.Count} rows read");
        // What `gba train` and `gba demo` resolve with no flags, which must also be the library's TrainerOptions defaults.
        var train = TrainOptions.Trainer(TrainOptions.Reader([]), demo: false);
        var demo = TrainOptions.Trainer(TrainOptions.Reader([]), demo: true);
        var library = new TrainerOptions();
        foreach (var (option, documented) in rows)
        {
            var spec = TrainOptions.All.SingleOrDefault(s => s.Name == option);
            Assert.True(spec is not null, $"README documents --{option}, which the option schema does not have");
            Assert.True(spec!.Effective is not null, $"--{option} has no resolved value");
            foreach (var (who, options) in new[] { ("gba train", train), ("gba demo", demo), ("TrainerOptions", library) })
            {
                string actual = spec.Effective!(options)!.ToJsonString().Trim('"');
                Assert.True(actual == documented, $"README says --{option} defaults to {documented}; {who} says {actual}");
            }
        }
    }
}
