using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Formats;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>An SAE trained once on the shared USE-Lite activations for the `gba features` / `gba select` tests.</summary>
public sealed class UseLiteSae : IDisposable
{
    public static string Data => TestFiles.SharedData("use-lite-moby-resid1-40k.f16.npy");
    public static string Text => TestFiles.SharedData("use-lite-moby-resid1-40k.tokens.tsv");
    readonly TempDir _dir = new();
    /// <summary>A path inside the fixture's scratch directory.</summary>
    public string this[string name] => _dir[name];
    public string Root => _dir.Path;
    public string Run => _dir["run"];

    public UseLiteSae()
    {
        var (code, _, err) = CliHarness.Run("train", "--data", Data, "--d-sae", "512", "--batch", "256", "--steps", "80", "--eval-tokens", "2000",
            "--eval-every", "0", "--threads", "2", "--token-text", Text, "--out", Run, "--quiet");
        Assert.True(code == 0, err);
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// `gba features` and `gba select` on the shared USE-Lite data: the feature table against the codes `gba encode`
/// writes for the same SAE (counts, maxima, top rows, contexts cut from the token text), and the selftest:
/// sentences cut out of the corpus as targets come back first, with score 1.
/// </summary>
public class UsesCliTests(UseLiteSae sae) : IClassFixture<UseLiteSae>
{
    [Fact]
    public void FeatureTableAgreesWithTheEncodedCodesAndTheTokenText()
    {
        var t = sae;
        var (code, stdout, err) = Run("features", "--sae", sae.Run, "--data", UseLiteSae.Data, "--token-text", UseLiteSae.Text, "--out", t["feat"],
            "--top-k", "5", "--quantiles", "4", "--window", "3", "--threads", "2", "--json", "--quiet");
        Assert.True(code == 0, err);
        Assert.Equal(40_000, JsonNode.Parse(LastLine(stdout))!["tokens"]!.GetValue<long>());
        Assert.Equal(0, Run("encode", "--sae", sae.Run, "--data", UseLiteSae.Data, "--out", t["codes.safetensors"], "--threads", "2", "--quiet").Code);
        var (indptr, indices, values, _) = EncodeTests.ReadCsr(t["codes.safetensors"]);
        var fires = new long[512];
        var max = new float[512];
        var maxRow = new long[512];
        for (long r = 0; r < 40_000; r++)
            for (long i = indptr[r]; i < indptr[r + 1]; i++)
            {
                int f = indices[i];
                if (fires[f]++ == 0 || values[i] > max[f]) { max[f] = values[i]; maxRow[f] = r; }
            }
        var pieces = File.ReadLines(UseLiteSae.Text).Skip(1).Select(l => l.Split('\t')).ToArray();

        var index = JsonNode.Parse(File.ReadAllText(t["feat/features.json"]))!;
        Assert.Equal(512, index["d_sae"]!.GetValue<int>());
        Assert.Equal(fires.Count(f => f == 0), index["dead"]!.GetValue<int>());
        Assert.Equal(fires.Count(f => f > 0), index["frequency_histogram"]!["counts"]!.AsArray().Sum(c => c!.GetValue<int>()));
        var stats = index["features"]!.AsArray();
        for (int f = 0; f < 512; f++)
        {
            Assert.Equal(fires[f], stats[f]!["fires"]!.GetValue<long>());
            if (fires[f] == 0) { Assert.Null(stats[f]!["file"]); continue; }
            Assert.Equal(max[f], stats[f]!["max"]!.GetValue<float>());
            var feature = JsonNode.Parse(File.ReadAllText(Path.Combine(t["feat"], stats[f]!["file"]!.GetValue<string>())))!;
            Assert.Equal(f, feature["index"]!.GetValue<int>());
            var top = feature["activations"]!.AsArray();
            Assert.Equal((int)Math.Min(5, fires[f]), top.Count);
            Assert.Equal(maxRow[f], top[0]!["row"]!.GetValue<long>());
            Assert.Equal(max[f], top[0]!["maxValue"]!.GetValue<float>());
            Assert.Equal((int)Math.Min(4, fires[f]), feature["quantile_activations"]!.AsArray().Count);
            foreach (var e in top.Concat(feature["quantile_activations"]!.AsArray()))
            {
                long row = e!["row"]!.GetValue<long>();
                var tokens = e["tokens"]!.AsArray().Select(x => x!.GetValue<string>()).ToArray();
                int at = e["maxValueTokenIndex"]!.GetValue<int>();
                Assert.InRange(at, 0, 3);
                Assert.Equal(pieces[row][4].Replace('\u2581', ' '), tokens[at]);
                Assert.Equal(pieces[row][1], e["sentence"]!.GetValue<int>().ToString());
                for (int j = 0; j < tokens.Length; j++) Assert.Equal(pieces[row - at + j][4].Replace('\u2581', ' '), tokens[j]);
            }
        }
    }

    [Fact]
    public void TheRunReportLinksToAFeatureTableInTheRunDirectory()
    {
        var (code, _, err) = Run("features", "--sae", sae.Run, "--data", UseLiteSae.Data, "--token-text", UseLiteSae.Text, "--out", Path.Combine(sae.Run, "features"),
            "--top-k", "3", "--quantiles", "2", "--threads", "2", "--quiet");
        Assert.True(code == 0, err);
        Assert.Equal(0, Run("report", sae.Run, "--out", sae["report.html"]).Code);
        var html = File.ReadAllText(sae["report.html"]);
        Assert.Contains("<a href=\"features/features.json\">", html);
        var links = System.Text.RegularExpressions.Regex.Matches(html, "<a href=\"(features/features/\\d{5}\\.json)\">corpus</a>").Select(m => m.Groups[1].Value).ToArray();
        Assert.NotEmpty(links);
        Assert.All(links, l => Assert.True(File.Exists(Path.Combine(sae.Run, l)), l));
    }

    [Fact]
    public void TargetSentencesCutFromTheCorpusRankFirst()
    {
        var t = sae;
        var lines = File.ReadLines(UseLiteSae.Text).ToArray();
        var rows = lines.Skip(1).Select(l => l.Split('\t')).ToArray();
        var bySentence = rows.Select((r, i) => (Sentence: int.Parse(r[1]), Row: i)).GroupBy(x => x.Sentence).ToDictionary(g => g.Key, g => g.Select(x => x.Row).ToArray());
        string Text(int s) => string.Concat(bySentence[s].Select(r => rows[r][4]));
        var textCount = bySentence.Keys.GroupBy(Text).ToDictionary(g => g.Key, g => g.Count());
        // Sentences whose text occurs once (a repeated sentence has the same code and would tie).
        int[] picked = [.. new[] { 17, 250, 400, 700, 873, 1000 }.Where(s => bySentence[s].Length > 3 && textCount[Text(s)] == 1)];
        Assert.True(picked.Length >= 4, "the test wants at least 4 distinct target sentences");
        var targetRows = picked.SelectMany(s => bySentence[s]).ToArray();

        using (var ds = ActivationDataset.Open([UseLiteSae.Data], new LoaderOptions { EvalRows = long.MaxValue }))
        {
            var all = new float[40_000 * 512];
            using (var s = ds.OpenEvalStream()) s.NextBatch(all, 40_000);
            NpyWriter.Write(t["target.npy"], targetRows.Length, 512, NpyWriter.Element.F16, (first, n, dst) =>
            {
                for (int i = 0; i < n; i++) all.AsSpan(targetRows[first + i] * 512, 512).CopyTo(dst.Slice(i * 512, 512));
            });
        }
        File.WriteAllLines(t["target.tsv"], targetRows.Select(r => lines[r + 1]).Prepend(lines[0]));

        foreach (var extra in new[] { Array.Empty<string>(), ["--similarity", "cosine", "--pool", "mean", "--weights", "idf"] })
        {
            var (code, stdout, err) = Run(["select", "--sae", sae.Run, "--data", UseLiteSae.Data, "--token-text", UseLiteSae.Text, "--target", t["target.npy"],
                "--target-text", t["target.tsv"], "--top", "20", "--out", t["sel.jsonl"], "--threads", "2", "--json", "--quiet", .. extra]);
            Assert.True(code == 0, err);
            var selected = File.ReadAllLines(t["sel.jsonl"]).Select(l => JsonNode.Parse(l)!).ToArray();
            Assert.Equal(20, selected.Length);
            Assert.Equal(Enumerable.Range(1, 20), selected.Select(s => s["rank"]!.GetValue<int>()));
            var first = selected.Take(picked.Length).ToArray();
            Assert.Equal(picked.Order(), first.Select(s => s["sample"]!.GetValue<int>()).Order());
            foreach (var s in first)
            {
                Assert.Equal(1.0, s["score"]!.GetValue<double>(), 3);
                Assert.Equal(Text(s["sample"]!.GetValue<int>()).Replace('\u2581', ' ').Trim(), s["text"]!.GetValue<string>());
            }
            Assert.True(selected[picked.Length]!["score"]!.GetValue<double>() < first[^1]!["score"]!.GetValue<double>() - 1e-3, $"{string.Join(", ", selected.Take(8).Select(s => s["score"]))} ({string.Join(" ", extra)})");
        }

        var ratio = Run("select", "--sae", sae.Run, "--data", UseLiteSae.Data, "--token-text", UseLiteSae.Text, "--target", t["target.npy"],
            "--target-text", t["target.tsv"], "--ratio", "0.01", "--out", t["ratio.jsonl"], "--threads", "2", "--json", "--quiet");
        Assert.True(ratio.Code == 0, ratio.Err);
        int samples = JsonNode.Parse(LastLine(ratio.Out))!["samples"]!.GetValue<int>();
        Assert.Equal(bySentence.Count, samples);
        Assert.Equal((int)Math.Ceiling(0.01 * samples), File.ReadAllLines(t["ratio.jsonl"]).Length);
    }

    [Fact]
    public void BadUsageAndMisalignedTextAreOneClearError()
    {
        var t = sae;
        string[] common = ["--sae", sae.Run, "--data", UseLiteSae.Data, "--token-text", UseLiteSae.Text, "--target", UseLiteSae.Data, "--target-text", UseLiteSae.Text, "--out", t["x.jsonl"], "--quiet"];
        var both = Run(["select", .. common, "--top", "3", "--ratio", "0.5"]);
        Assert.Equal(CliApp.Usage, both.Code);
        Assert.Contains("exactly one of --top K and --ratio R", both.Err);
        var pool = Run(["select", .. common, "--top", "3", "--pool", "median"]);
        Assert.Equal(CliApp.Usage, pool.Code);
        Assert.Contains("--pool 'median'", pool.Err);

        File.WriteAllLines(t["short.tsv"], File.ReadLines(UseLiteSae.Text).Take(100));
        var (code, _, err) = Run("features", "--sae", sae.Run, "--data", UseLiteSae.Data, "--token-text", t["short.tsv"], "--out", t["f2"], "--threads", "2", "--quiet");
        Assert.Equal(CliApp.Failed, code);
        AssertOneLine(err);
        Assert.Contains("short.tsv", err);
        Assert.False(Directory.Exists(t["f2"]), "nothing is left behind");
        Assert.Empty(Directory.GetDirectories(t.Root, "f2.partial-*"));
    }
}
