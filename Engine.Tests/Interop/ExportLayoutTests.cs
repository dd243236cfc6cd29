using System.Text.Json;
using GbaEngine.Encoders;
using GbaEngine.Inference;
using GbaEngine.Interop;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Formats;
using GbaEngine.Tests.Activations;
using GbaEngine.Tests.Reference;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// What the export does beyond mapping tensors: decoder norms folded (unit rows for standard and jumprelu,
/// TopK left as is), MP-SAEs in SAELens' matching_pursuit layout with the engine's stopping rule, and the
/// sparsify layout for TopK with its refusals.
/// </summary>
[Trait("Category", "Kernels")]
public class ExportLayoutTests : IDisposable
{
    readonly TempDir _root = new("gba-layout-");

    public void Dispose() => _root.Dispose();

    static double Norm(ReadOnlySpan<float> row)
    {
        double n2 = 0;
        foreach (float v in row) n2 += (double)v * v;
        return Math.Sqrt(n2);
    }

    [Theory]
    [InlineData(SaeActivation.JumpRelu, InputNormalization.DatasetScale)]
    [InlineData(SaeActivation.Relu, InputNormalization.DatasetScale)]
    [InlineData(SaeActivation.JumpRelu, InputNormalization.PerToken)]
    [InlineData(SaeActivation.Relu, InputNormalization.PerToken)]
    public void FoldedDecoderRowsAreUnitNormAndAZeroRowStaysZero(SaeActivation gate, InputNormalization norm)
    {
        var sae = EngineRoundTripTests.RandomSae(false, gate, SparsityMode.Threshold, norm, seed: 4);
        sae.Parameters.Scale[5] = 0f;                       // a feature that writes nothing: nothing to fold
        var dir = _root[$"{gate}-{norm}"];
        SaeLensExport.Write(dir, sae);
        var model = SaeModel.Load(dir);
        for (int m = 0; m < model.Features; m++)
            if (m == 5) Assert.All(model.DecoderRow(m).ToArray(), v => Assert.Equal(0f, v));
            else Assert.Equal(1.0, Norm(model.DecoderRow(m)), 1e-6);    // SAEBench checks 1e-5 in float32
        var raw = EngineRoundTripTests.RawTokens(64, sae.Dim, seed: 5);
        var batch = model.EncodeBatch(raw, 64);
        Assert.All(batch.AllValues.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void TopKKeepsItsDecoderNormsAndSaysWhy()
    {
        var sae = EngineRoundTripTests.RandomSae(true, SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.DatasetScale, seed: 6);
        var dir = _root["topk"];
        SaeLensExport.Write(dir, sae);
        var model = SaeModel.Load(dir);
        var expected = EngineRoundTripTests.FoldedFeatureScale(
            new SparseAutoencoder(sae.Architecture with { Sparsity = SparsityMode.Threshold, K = 0 }, sae.Parameters, sae.Normalization, sae.InputScale));
        for (int m = 0; m < model.Features; m++) Assert.Equal(expected[m], Norm(model.DecoderRow(m)), 1e-5);   // a_m/s: varies with a_m
        using var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, SaeLensExport.ConfigFile)));
        Assert.Contains("would change which k are kept", cfg.RootElement.GetProperty("gba_engine").GetProperty("decoder_norms").GetString());
        Assert.False(cfg.RootElement.GetProperty("rescale_acts_by_decoder_norm").GetBoolean());
    }

    /// <summary>An MP-SAE with unit atoms, as training leaves it.</summary>
    static SparseAutoencoder RandomPursuit(InputNormalization norm, int steps, int seed)
    {
        var random = EngineRoundTripTests.RandomSae(true, SaeActivation.JumpRelu, SparsityMode.Threshold, norm, seed);
        var arch = new SaeArchitecture(random.Dim, random.Neurons, true, SaeActivation.Relu, SparsityMode.MatchingPursuit, steps);
        random.Parameters.Scale.Fill(1f);
        return new SparseAutoencoder(arch, random.Parameters, norm, random.InputScale);
    }

    [Theory]
    [InlineData(InputNormalization.DatasetScale)]
    [InlineData(InputNormalization.PerToken)]
    public void PursuitExportsToSaeLensMatchingPursuitWithTheEnginesStoppingRule(InputNormalization norm)
    {
        const int steps = 4, rows = 80;
        var sae = RandomPursuit(norm, steps, seed: 7);
        int d = sae.Dim, m = sae.Neurons;
        var dir = _root["mp-" + norm];
        SaeLensExport.Write(dir, sae, "mp");

        using (var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, SaeLensExport.ConfigFile))))
        {
            var c = cfg.RootElement;
            Assert.Equal("matching_pursuit", c.GetProperty("architecture").GetString());
            Assert.Equal(steps, c.GetProperty("max_iterations").GetInt32());
            Assert.Equal(0.0, c.GetProperty("residual_threshold").GetDouble());
            Assert.False(c.GetProperty("stop_on_duplicate_support").GetBoolean());
        }
        using var st = SafetensorsReader.Open(Path.Combine(dir, SaeLensExport.WeightsFile));
        Assert.False(st.Contains("W_enc") || st.Contains("b_enc") || st.Contains("threshold"));   // SAELens' state dict: W_dec, b_dec
        var wDec = st.Read("W_dec", [m, d], "d_sae, d_in");
        var bDec = st.Read("b_dec", [d], "d_in");
        for (int n = 0; n < m; n++) Assert.Equal(1.0, Norm(wDec.AsSpan(n * d, d)), 1e-6);

        // The engine's pursuit on the re-imported SAE, scaled to the export's units, against SAELens' formula on raw rows.
        var imported = MatchingPursuitImport.Read(dir);
        Assert.Equal(steps, imported.Architecture.K);
        float scale = SaeLensExport.MatchingPursuitFeatureScale(imported);
        var raw = EngineRoundTripTests.RawTokens(rows, d, seed: 8);
        var code = Encode(imported, raw, rows);
        int compared = 0;
        for (int t = 0; t < rows; t++)
        {
            var expected = SaeLensReference.MatchingPursuit(wDec, bDec, d, m, raw.AsSpan(t * d, d), norm == InputNormalization.PerToken, steps);
            var got = new double[m];
            var idx = code.Indices(t);
            var val = code.Values(t);
            for (int r = 0; r < idx.Length; r++) got[idx[r]] = val[r] * (double)scale;
            for (int n = 0; n < m; n++)
            {
                Assert.True(Math.Abs(got[n] - expected[n]) <= 1e-4 * (1 + Math.Abs(expected[n])), $"token {t} atom {n}: engine {got[n]} vs SAELens {expected[n]}");
                if (expected[n] != 0) compared++;
            }
        }
        Assert.True(compared > rows * 2, $"only {compared} non-zero features compared");
    }

    static SparseCode Encode(SparseAutoencoder sae, float[] raw, int rows)
    {
        var x = new AlignedArray((long)rows * sae.Parameters.Stride);
        sae.NormalizeBatch(raw, rows, x.Span, new float[rows]);
        var code = new SparseCode();
        using var encoder = new MatchingPursuitEncoder(sae.Architecture, sae.Parameters, rows, 1);
        encoder.Encode(x, rows, code, null);
        return code;
    }

    [Fact]
    public void TheEarlierMpLayoutStillLoads()
    {
        var sae = RandomPursuit(InputNormalization.DatasetScale, 3, seed: 9);
        var dir = _root["legacy"];
        SaeLensExport.Write(dir, sae, "mp");
        // format_version 1 named the architecture "mp" with "mp_steps"; its W_dec rows were w/s (renormalised on import).
        var cfgPath = Path.Combine(dir, SaeLensExport.ConfigFile);
        var cfg = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(cfgPath))!.AsObject();
        cfg["architecture"] = "mp";
        cfg.Remove("max_iterations");
        cfg["mp_steps"] = 3;
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        Assert.True(MatchingPursuitImport.IsMatchingPursuit(dir));
        var imported = MatchingPursuitImport.Read(dir);
        Assert.Equal(3, imported.Architecture.K);
        var raw = EngineRoundTripTests.RawTokens(20, sae.Dim, seed: 10);
        var a = Encode(sae, raw, 20);
        var b = Encode(imported, raw, 20);
        Assert.Equal(a.Indices(7).ToArray(), b.Indices(7).ToArray());
    }

    [Fact]
    public void SaeModelRefusesAPursuitExportNamingTheLoaderThatRunsIt()
    {
        var dir = _root["mp-refused"];
        SaeLensExport.Write(dir, RandomPursuit(InputNormalization.DatasetScale, 2, seed: 11));
        var e = Assert.Throws<InvalidDataException>(() => SaeModel.Load(dir));
        Assert.Contains("MatchingPursuitImport", e.Message);
        Assert.StartsWith(Path.Combine(dir, SaeLensExport.ConfigFile), e.Message);
    }

    [Fact]
    public void SparsifyExportOfTopKLoadsAsTheSameModel()
    {
        var sae = EngineRoundTripTests.RandomSae(false, SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.DatasetScale, seed: 12);
        var dir = Path.Combine(_root.Path, "sparsify", "blocks.3.hook_resid_post");
        SparsifyExport.Write(dir, sae, "topk");
        Assert.True(File.Exists(Path.Combine(dir, "sae.safetensors")));
        using (var st = SafetensorsReader.Open(Path.Combine(dir, "sae.safetensors")))
            Assert.Equal(["W_dec", "b_dec", "encoder.bias", "encoder.weight"], st.Names.Order(StringComparer.Ordinal));
        using (var cfg = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "cfg.json"))))
        {
            Assert.Equal(sae.Neurons, cfg.RootElement.GetProperty("num_latents").GetInt32());
            Assert.Equal(sae.Architecture.K, cfg.RootElement.GetProperty("k").GetInt32());
            Assert.Equal(sae.Dim, cfg.RootElement.GetProperty("d_in").GetInt32());
        }
        // The parent directory holds one hookpoint: it stands for it.
        var model = SaeModel.Load(Path.GetDirectoryName(dir)!);
        Assert.Equal(SaeLayout.Sparsify, model.Layout);
        var direct = SaeModel.FromAutoencoder(sae);
        var raw = EngineRoundTripTests.RawTokens(50, sae.Dim, seed: 13);
        var a = model.EncodeBatch(raw, 50);
        var b = direct.EncodeBatch(raw, 50);
        Assert.Equal(b.AllIndices.ToArray(), a.AllIndices.ToArray());
        Assert.Equal(b.AllValues.ToArray(), a.AllValues.ToArray());
    }

    [Theory]
    [InlineData(SparsityMode.Threshold, InputNormalization.DatasetScale, "runs TopK SAEs only")]
    [InlineData(SparsityMode.TopK, InputNormalization.PerToken, "no input normalisation")]
    public void SparsifyRefusesWhatItCannotRun(SparsityMode sparsity, InputNormalization norm, string reason)
    {
        var sae = EngineRoundTripTests.RandomSae(true, SaeActivation.JumpRelu, sparsity, norm, seed: 14);
        var dir = _root["refused"];
        var e = Assert.Throws<NotSupportedException>(() => SparsifyExport.Write(dir, sae));
        Assert.Contains(reason, e.Message);
        Assert.False(Directory.Exists(dir));
    }
}
