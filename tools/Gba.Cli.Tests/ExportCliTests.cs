using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Inference;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Tests.Reference;
using static GbaEngine.Cli.Tests.CliHarness;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// What `gba train --out` exports for the tools that load SAEs: the SAELens 6 metadata (flags, harvest.json,
/// warnings), unit-norm decoder rows whose FVU `gba eval` reproduces, the sparsify layout, and `gba encode`
/// on an MP export against SAELens' matching-pursuit formula.
/// </summary>
public class ExportCliTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "gba-export-cli-" + Guid.NewGuid().ToString("N"));
    readonly string _data;
    const int Rows = 4000, D = 16;

    public ExportCliTests()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "data"));
        var model = new SyntheticModel(new SyntheticSpec(Features: 32, Dim: D, Sparsity: 2), 5);
        var rows = new float[Rows * D];
        model.OpenStream(1).NextBatch(rows, Rows);
        for (int i = 0; i < rows.Length; i++) rows[i] *= 40f;       // an activation scale far from 1, as real data has
        _data = Path.Combine(_dir, "data", "acts.npy");
        File.WriteAllBytes(_data, TestFiles.Npy("<f4", [Rows, D], TestFiles.Encode(rows, ActivationDType.F32)));
    }

    public void Dispose() => Directory.Delete(_dir, true);

    (string Dir, string Out, string Err) Train(string name, params string[] extra)
    {
        var outDir = Path.Combine(_dir, name);
        var (code, stdout, err) = Run(["train", "--data", _data, "--d-sae", "64", "--batch", "64", "--steps", "80", "--init-tokens", "1024",
            "--buffer-tokens", "640", "--eval-tokens", "400", "--threads", "1", "--out", outDir, "--json", .. extra]);
        Assert.True(code == 0, err);
        return (outDir, stdout, err);
    }

    /// <summary>No warning but the trainer's budget warning (which these short runs get by design).</summary>
    static void NoExportWarning(string err) =>
        Assert.DoesNotContain(err.Split('\n'), l => l.Contains("warning:") && !l.Contains("warning: the budget of"));

    static JsonObject Cfg(string saeDir) => JsonNode.Parse(File.ReadAllText(Path.Combine(saeDir, "cfg.json")))!.AsObject();

    [Theory]
    [InlineData("gba")]
    [InlineData("l1")]
    public void ExportHasTheMetadataBlockUnitDecoderRowsAndTheRunsFvu(string method)
    {
        var (run, stdout, err) = Train(method, "--method", method, "--hook-name", "blocks.6.hook_resid_post", "--model-name", "gpt2",
            "--context-size", "128", "--dataset-path", "Skylion007/openwebtext", "--prepend-bos", "false");
        NoExportWarning(err);
        var meta = Cfg(Path.Combine(run, "sae"))["metadata"]!.AsObject();
        Assert.Equal("6.0.0", meta["sae_lens_version"]!.GetValue<string>());
        Assert.Equal("gpt2", meta["model_name"]!.GetValue<string>());
        Assert.Equal("blocks.6.hook_resid_post", meta["hook_name"]!.GetValue<string>());
        Assert.Equal(128, meta["context_size"]!.GetValue<int>());
        Assert.Equal("Skylion007/openwebtext", meta["dataset_path"]!.GetValue<string>());
        Assert.False(meta["prepend_bos"]!.GetValue<bool>());
        var options = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")))!["options"]!;
        Assert.Equal("128", options["context_size"]!.GetValue<string>());          // config.json repeats the run's export too

        var model = SaeModel.Load(run);
        for (int m = 0; m < model.Features; m++)
        {
            double n2 = 0;
            foreach (float v in model.DecoderRow(m)) n2 += (double)v * v;
            if (n2 > 0) Assert.Equal(1.0, Math.Sqrt(n2), 1e-5);                     // SAEBench's check_decoder_norms tolerance
        }
        var summary = JsonDocument.Parse(LastLine(stdout)).RootElement;
        var (code, evalOut, evalErr) = Run("eval", "--sae", run, "--data", _data, "--eval-tokens", "400", "--json");
        Assert.True(code == 0, evalErr);
        var eval = JsonDocument.Parse(LastLine(evalOut)).RootElement;
        Assert.Equal(summary.GetProperty("fvu").GetDouble(), eval.GetProperty("fvu").GetDouble(), 1e-5);
        Assert.Equal(summary.GetProperty("l0").GetDouble(), eval.GetProperty("l0").GetDouble(), 1e-3);
    }

    [Fact]
    public void TrainWarnsWhenTheExportCannotBePlacedBySaeBench()
    {
        var (_, _, err) = Train("nameless");
        Assert.Contains("warning: no --hook-name or --model-name", err);
        var (_, _, err2) = Train("layerless", "--hook-name", "resid_post", "--model-name", "gpt2");
        Assert.Contains("holds no layer number", err2);
        // Synthetic data has no model to name: no warning.
        var (code, _, err3) = Run(["train", .. TinyArgs]);
        Assert.Equal(0, code);
        NoExportWarning(err3);
    }

    [Fact]
    public void HarvestManifestBesideTheDataFillsTheMetadataAndFlagsWin()
    {
        File.WriteAllText(Path.Combine(_dir, "data", "harvest.json"), """
            {"format": "gba-harvest/1", "model": {"path": "/models/tiny-lm.onnx", "sha256": "00"},
             "hooks": [{"name": "blocks.2.hook_resid_post", "d": 16}], "dtype": "f32",
             "tokens": {"source": "/text/wiki.jsonl", "tokenizer": "/text/sp.model", "sequences": 125, "context": 32, "count": 4000}, "complete": true}
            """);
        var (run, _, err) = Train("harvested");
        NoExportWarning(err);
        var meta = Cfg(Path.Combine(run, "sae"))["metadata"]!.AsObject();
        Assert.Equal("tiny-lm", meta["model_name"]!.GetValue<string>());
        Assert.Equal("blocks.2.hook_resid_post", meta["hook_name"]!.GetValue<string>());
        Assert.Equal(32, meta["context_size"]!.GetValue<int>());
        Assert.Equal("/text/wiki.jsonl", meta["dataset_path"]!.GetValue<string>());
        Assert.False(meta.ContainsKey("prepend_bos"));                                 // not recorded by the harvest: left unknown

        var (run2, _, _) = Train("harvested-override", "--model-name", "gpt2", "--context-size", "64");
        var meta2 = Cfg(Path.Combine(run2, "sae"))["metadata"]!.AsObject();
        Assert.Equal("gpt2", meta2["model_name"]!.GetValue<string>());
        Assert.Equal(64, meta2["context_size"]!.GetValue<int>());
        Assert.Equal("blocks.2.hook_resid_post", meta2["hook_name"]!.GetValue<string>());

        File.WriteAllText(Path.Combine(_dir, "data", "harvest.json"), """{"format": "something else"}""");
        var (code, _, bad) = Run("train", "--data", _data, "--steps", "2", "--quiet");
        Assert.Equal(CliApp.Failed, code);
        Assert.Contains("harvest.json: not a gba harvest manifest", bad);
    }

    [Fact]
    public void SparsifyFormatWritesAHookpointDirectoryAndRefusesWhatSparsifyCannotRun()
    {
        var (run, stdout, _) = Train("sparsify", "--method", "topk", "--k", "3", "--normalize", "datasetscale", "--format", "sparsify", "--hook-name", "layers.3", "--model-name", "m");
        var hook = Path.Combine(run, "sae", "layers.3");
        Assert.True(File.Exists(Path.Combine(hook, "sae.safetensors")));
        Assert.Equal(3, Cfg(hook)["k"]!.GetValue<int>());
        var (code, evalOut, evalErr) = Run("eval", "--sae", run, "--data", _data, "--eval-tokens", "400", "--json");
        Assert.True(code == 0, evalErr);
        var eval = JsonDocument.Parse(LastLine(evalOut)).RootElement;
        Assert.Equal("sparsify", eval.GetProperty("layout").GetString());
        Assert.Equal(JsonDocument.Parse(LastLine(stdout)).RootElement.GetProperty("fvu").GetDouble(), eval.GetProperty("fvu").GetDouble(), 1e-5);

        var refused = Path.Combine(_dir, "refused");
        var (c2, _, e2) = Run("train", "--data", _data, "--method", "gba", "--format", "sparsify", "--out", refused, "--quiet");
        Assert.Equal(CliApp.Usage, c2);
        Assert.Contains("--format sparsify: sparsify runs TopK SAEs only", e2);
        Assert.False(File.Exists(Path.Combine(refused, "config.json")));               // refused before training
        var (c3, _, e3) = Run("train", "--data", _data, "--method", "topk", "--normalize", "pertoken", "--format", "sparsify", "--quiet");
        Assert.Equal(CliApp.Usage, c3);
        Assert.Contains("no input normalisation", e3);
    }

    [Theory]
    [InlineData("datasetscale")]
    [InlineData("pertoken")]
    public void EncodeOfAPursuitExportGivesSaeLensMatchingPursuitFeatures(string normalize)
    {
        var (run, _, _) = Train("mp-" + normalize, "--method", "mp", "--mp-steps", "3", "--normalize", normalize, "--hook-name", "blocks.0.x", "--model-name", "m");
        var cfg = Cfg(Path.Combine(run, "sae"));
        Assert.Equal("matching_pursuit", cfg["architecture"]!.GetValue<string>());
        var codes = Path.Combine(_dir, "mp-" + normalize + ".safetensors");
        var (code, _, err) = Run("encode", "--sae", run, "--data", _data, "--out", codes, "--row-limit", "300", "--quiet");
        Assert.True(code == 0, err);
        var (indptr, indices, values, _) = EncodeTests.ReadCsr(codes);

        using var st = SafetensorsReader.Open(Path.Combine(run, "sae", "sae_weights.safetensors"));
        var wDec = st.Read("W_dec", [64, D], "d_sae, d_in");
        var bDec = st.Read("b_dec", [D], "d_in");
        var rows = new float[300 * D];
        using (var ds = ActivationDataset.Open([_data], new LoaderOptions { EvalRows = 300, RowLimit = 300 }))
        using (var s = ds.OpenEvalStream()) s.NextBatch(rows, 300);
        for (int t = 0; t < 300; t++)
        {
            var expected = SaeLensReference.MatchingPursuit(wDec, bDec, D, 64, rows.AsSpan(t * D, D), normalize == "pertoken", 3);
            var got = new double[64];
            for (long i = indptr[t]; i < indptr[t + 1]; i++) got[indices[i]] = values[i];
            for (int n = 0; n < 64; n++)
                Assert.True(Math.Abs(got[n] - expected[n]) <= 1e-3 * (1 + Math.Abs(expected[n])), $"row {t} atom {n}: gba encode {got[n]} vs SAELens {expected[n]}");
        }
    }
}
