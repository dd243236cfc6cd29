using System.Text.Json;
using GbaEngine.Interop;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Tests.Interop;

/// <summary>cfg.json of the SAELens export holds the fields spec/formats.md lists and SAELens' loader reads.</summary>
[Trait("Category", "Kernels")]
public class ExportConfigTests
{
    [Theory]
    [InlineData(SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.DatasetScale, "jumprelu", "none")]
    [InlineData(SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.DatasetScale, "standard", "none")]
    [InlineData(SaeActivation.JumpRelu, SparsityMode.TopK, InputNormalization.DatasetScale, "topk", "none")]
    [InlineData(SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.PerToken, "jumprelu", "constant_norm_rescale")]
    public void ConfigFieldsAndTensorNames(SaeActivation gate, SparsityMode sparsity, InputNormalization norm, string architecture, string normalize)
    {
        var sae = EngineRoundTripTests.RandomSae(false, gate, sparsity, norm, 2);
        var dir = Path.Combine(Path.GetTempPath(), "gba-cfg-" + Guid.NewGuid().ToString("N"));
        try
        {
            SaeLensExport.Write(dir, sae, metadata: new SaeLensMetadata
            {
                ModelName = "gpt2", HookName = "blocks.6.hook_resid_post", ContextSize = 128, DatasetPath = "Skylion007/openwebtext", PrependBos = true, Dataset = "x",
            });
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "cfg.json")));
            var c = doc.RootElement;
            Assert.Equal(architecture, c.GetProperty("architecture").GetString());
            Assert.Equal(20, c.GetProperty("d_in").GetInt32());
            Assert.Equal(48, c.GetProperty("d_sae").GetInt32());
            Assert.Equal("float32", c.GetProperty("dtype").GetString());
            Assert.True(c.GetProperty("apply_b_dec_to_input").GetBoolean());
            Assert.Equal(normalize, c.GetProperty("normalize_activations").GetString());
            Assert.Equal("none", c.GetProperty("reshape_activations").GetString());
            // SAELens 6's metadata block: a 6.x version (else the config is read as pre-6.0 and the block dropped), typed fields.
            var meta = c.GetProperty("metadata");
            Assert.StartsWith("6.", meta.GetProperty("sae_lens_version").GetString());
            Assert.Equal(JsonValueKind.Null, meta.GetProperty("sae_lens_training_version").ValueKind);
            Assert.Equal("gpt2", meta.GetProperty("model_name").GetString());
            Assert.Equal("blocks.6.hook_resid_post", meta.GetProperty("hook_name").GetString());
            Assert.Equal(128, meta.GetProperty("context_size").GetInt32());
            Assert.Equal("Skylion007/openwebtext", meta.GetProperty("dataset_path").GetString());
            Assert.True(meta.GetProperty("prepend_bos").GetBoolean());
            Assert.Equal(JsonValueKind.Object, meta.GetProperty("model_from_pretrained_kwargs").ValueKind);
            Assert.Equal("x", meta.GetProperty("dataset").GetString());
            Assert.False(c.TryGetProperty("model_name", out _));                       // SAELens 6 keeps these in metadata only
            Assert.False(c.TryGetProperty("hook_name", out _));
            Assert.True(c.TryGetProperty("gba_engine", out var extras));
            Assert.Equal(norm == InputNormalization.PerToken ? "per_token" : "dataset_scale", extras.GetProperty("normalization").GetString());
            if (sparsity == SparsityMode.TopK)
            {
                Assert.Equal(4, c.GetProperty("k").GetInt32());
                Assert.False(c.GetProperty("rescale_acts_by_decoder_norm").GetBoolean());
            }
            else Assert.False(c.TryGetProperty("k", out _));

            Assert.Equal(sparsity == SparsityMode.TopK ? "not folded" : "folded", extras.GetProperty("decoder_norms").GetString()![..(sparsity == SparsityMode.TopK ? 10 : 6)]);

            var header = ReadHeader(Path.Combine(dir, "sae_weights.safetensors"));
            var expected = new Dictionary<string, long[]> { ["W_enc"] = [20, 48], ["b_enc"] = [48], ["W_dec"] = [48, 20], ["b_dec"] = [20] };
            if (architecture == "jumprelu") expected["threshold"] = [48];
            Assert.Equal(expected.Keys.Order(), header.Keys.Order());
            foreach (var (name, shape) in expected) Assert.Equal(shape, header[name]);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    static Dictionary<string, long[]> ReadHeader(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int n = (int)BitConverter.ToUInt64(bytes, 0);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, n));
        return doc.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
            .ToDictionary(p => p.Name, p => p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }
}
