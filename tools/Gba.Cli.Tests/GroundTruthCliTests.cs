using System.Text.Json;
using GbaEngine.Activations;
using GbaEngine.Cli;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba train --ground-truth V.npy`: recovery from a file of true features, for any data.</summary>
public class GroundTruthCliTests
{
    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    const string Tiny = "--features 32 --dim 16 --sparsity 2 --d-sae 96 --batch 64 --steps 120 --lr 3e-3 --method topk --k 2 " +
                        "--init-tokens 1024 --eval-tokens 1024 --threads 1 --seed 5";

    [Fact]
    public void AFileOfThePermutedRescaledGeneratorFeaturesGivesTheSameRecoveryAsTheGenerator()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-gt-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            // The generator's own features (same spec and seed as Tiny), rows reversed and scaled: cosines ignore
            // both, so per-feature best cosines must be the generator's, reversed.
            var model = new SyntheticModel(new SyntheticSpec(Features: 32, Dim: 16, Sparsity: 2), 5);
            var v = new float[32 * 16];
            for (int i = 0; i < 32; i++)
                for (int j = 0; j < 16; j++) v[i * 16 + j] = (i + 1) * 0.5f * model.Features[(31 - i) * 16 + j];
            var file = Path.Combine(dir, "V.npy");
            File.WriteAllBytes(file, TestFiles.Npy("<f4", [32, 16], TestFiles.Encode(v, ActivationDType.F32)));

            var (c1, out1, e1) = Run([.. Tiny.Split(' ').Prepend("train"), "--out", Path.Combine(dir, "gen"), "--json"]);
            var (c2, out2, e2) = Run([.. Tiny.Split(' ').Prepend("train"), "--ground-truth", file, "--out", Path.Combine(dir, "file"), "--json"]);
            Assert.True(c1 == 0, e1);
            Assert.True(c2 == 0, e2);
            using var a = JsonDocument.Parse(out1.TrimEnd().Split('\n')[^1]);
            using var b = JsonDocument.Parse(out2.TrimEnd().Split('\n')[^1]);
            double frr = a.RootElement.GetProperty("frr_0_8").GetDouble();
            Assert.True(frr > 0.3, $"the tiny run should recover some features (FRR@0.8 = {frr})");
            Assert.Equal(frr, b.RootElement.GetProperty("frr_0_8").GetDouble());

            using var ra = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "gen", "recovery.json")));
            using var rb = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "file", "recovery.json")));
            var ca = ra.RootElement.GetProperty("best_cosine").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            var cb = rb.RootElement.GetProperty("best_cosine").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            Assert.Equal(32, ca.Length);
            for (int i = 0; i < 32; i++) Assert.Equal(ca[31 - i], cb[i], 5);
            Assert.Equal(ca.Count(c => c > 0.8) / 32.0, ra.RootElement.GetProperty("frr_0_8").GetDouble());
            Assert.True(ra.RootElement.TryGetProperty("frequency", out _));      // the generator knows them
            Assert.False(rb.RootElement.TryGetProperty("frequency", out _));     // a file does not
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void DataFileWithGroundTruthReportsRecoveryAndAMismatchedWidthIsOneLineExit1()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-gt-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var model = new SyntheticModel(new SyntheticSpec(Features: 40, Dim: 24, Sparsity: 2), 3);
            var rows = new float[4000 * 24];
            model.OpenStream(1).NextBatch(rows, 4000);
            var data = Path.Combine(dir, "acts.npy");
            File.WriteAllBytes(data, TestFiles.Npy("<f2", [4000, 24], TestFiles.Encode(rows, ActivationDType.F16)));
            var truth = Path.Combine(dir, "V.npy");
            File.WriteAllBytes(truth, TestFiles.Npy("<f2", [40, 24], TestFiles.Encode(model.Features, ActivationDType.F16)));
            var outDir = Path.Combine(dir, "run");
            var (code, stdout, err) = Run("train", "--data", data, "--ground-truth", truth, "--d-sae", "64", "--batch", "64", "--steps", "30",
                "--init-tokens", "512", "--buffer-tokens", "640", "--threads", "1", "--out", outDir, "--json");
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
            Assert.Equal(JsonValueKind.Number, doc.RootElement.GetProperty("frr_0_9").ValueKind);
            Assert.Contains("FRR@0.8", stdout);
            using var rec = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "recovery.json")));
            Assert.Equal(40, rec.RootElement.GetProperty("features").GetInt32());
            Assert.All(rec.RootElement.GetProperty("best_cosine").EnumerateArray(), c => Assert.InRange(c.GetDouble(), -1.0, 1.0));

            var narrow = Path.Combine(dir, "narrow.npy");
            File.WriteAllBytes(narrow, TestFiles.Npy("<f4", [40, 23], TestFiles.Encode(new float[40 * 23], ActivationDType.F32)));
            var (bad, _, badErr) = Run("train", "--data", data, "--ground-truth", narrow, "--steps", "1");
            Assert.Equal(1, bad);
            Assert.Contains(narrow, badErr);
            Assert.Contains("d = 23", badErr);
            Assert.Single(badErr.TrimEnd().Split('\n'));

            var (missing, _, missingErr) = Run("train", "--ground-truth", Path.Combine(dir, "none.npy"), "--steps", "1", "--dim", "16", "--features", "20");
            Assert.Equal(1, missing);
            Assert.Contains("none.npy", missingErr);
        }
        finally { Directory.Delete(dir, true); }
    }
}
