using GbaEngine.Activations;
using GbaEngine.Inference;
using GbaEngine.Tests.Activations;
using GbaEngine.Formats;
using GbaEngine.Model;
using GbaEngine.Interop;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// Every way an SAE directory can be broken or mismatched gives one <see cref="InvalidDataException"/>
/// whose message names the file and the problem.
/// </summary>
[Trait("Category", "Kernels")]
public class CorruptSaeDirectoryTests : IDisposable
{
    readonly TempDir _root = new("gba-corrupt-");

    public void Dispose() => _root.Dispose();

    const string GoodCfg = """{"architecture": "standard", "d_in": 3, "d_sae": 4, "apply_b_dec_to_input": true}""";

    static TestFiles.Tensor T(string name, long[] shape, float fill = 0.5f, string dtype = "F32")
    {
        var values = Enumerable.Repeat(fill, (int)shape.Aggregate(1L, (a, b) => a * b)).ToArray();
        return new(name, dtype, shape, dtype == "I32" ? values.SelectMany(v => BitConverter.GetBytes((int)v)).ToArray() : TestFiles.Encode(values, ActivationDType.F32));
    }

    static List<TestFiles.Tensor> GoodTensors() => [T("W_enc", [3, 4]), T("b_enc", [4]), T("W_dec", [4, 3]), T("b_dec", [3])];

    string Write(string name, string? cfg, IReadOnlyList<TestFiles.Tensor>? tensors, string weightsFile = "sae_weights.safetensors")
    {
        var dir = _root[name];
        Directory.CreateDirectory(dir);
        if (cfg is not null) File.WriteAllText(Path.Combine(dir, "cfg.json"), cfg);
        if (tensors is not null) File.WriteAllBytes(Path.Combine(dir, weightsFile), TestFiles.Safetensors(tensors));
        return dir;
    }

    static void AssertFails(string path, string file, params string[] fragments)
    {
        var e = Assert.Throws<InvalidDataException>(() => SaeModel.Load(path));
        Assert.Contains(file, e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void TheGoodDirectoryLoads() => Assert.Equal(4, SaeModel.Load(Write("good", GoodCfg, GoodTensors())).Features);

    [Fact]
    public void MissingDirectory() => AssertFails(_root["nowhere"], "nowhere", "directory not found");

    [Fact]
    public void EmptyDirectory() => AssertFails(Write("empty", null, null), "empty", "not an SAE directory", "sae_weights.safetensors", "sae.safetensors");

    [Fact]
    public void ConfigWithoutWeights() => AssertFails(Write("noweights", GoodCfg, null), "noweights", "no weights");

    [Fact]
    public void MissingConfig() => AssertFails(Write("nocfg", null, GoodTensors()), Path.Combine("nocfg", "cfg.json"), "file not found");

    [Fact]
    public void ConfigIsNotJson() => AssertFails(Write("badjson", "{\"d_in\": 3,", GoodTensors()), "cfg.json", "not valid JSON");

    [Fact]
    public void ConfigIsNotAnObject() => AssertFails(Write("array", "[1, 2]", GoodTensors()), "cfg.json", "expected a JSON object");

    [Fact]
    public void ConfigLacksDIn() => AssertFails(Write("nodin", """{"architecture": "standard", "d_sae": 4}""", GoodTensors()), "cfg.json", "'d_in' is missing");

    [Fact]
    public void ConfigHasABadDSae() => AssertFails(Write("baddsae", """{"d_in": 3, "d_sae": "four"}""", GoodTensors()), "cfg.json", "'d_sae'", "positive integer");

    [Fact]
    public void UnknownArchitecture() =>
        AssertFails(Write("gated", """{"architecture": "gated", "d_in": 3, "d_sae": 4}""", GoodTensors()), "cfg.json", "architecture 'gated' is not supported");

    [Fact]
    public void UnknownNormalisation() =>
        AssertFails(Write("norm", """{"d_in": 3, "d_sae": 4, "normalize_activations": "whiten"}""", GoodTensors()), "cfg.json", "normalize_activations 'whiten'");

    [Fact]
    public void TopKWithoutK() => AssertFails(Write("nok", """{"architecture": "topk", "d_in": 3, "d_sae": 4}""", GoodTensors()), "cfg.json", "needs 'k'");

    [Fact]
    public void TopKLargerThanTheDictionary() =>
        AssertFails(Write("bigk", """{"architecture": "topk", "d_in": 3, "d_sae": 4, "k": 5}""", GoodTensors()), "cfg.json", "'k' is 5");

    [Fact]
    public void MissingTensor() =>
        AssertFails(Write("nobenc", GoodCfg, GoodTensors().Where(t => t.Name != "b_enc").ToList()), "sae_weights.safetensors", "no tensor 'b_enc'", "'W_enc'");

    [Fact]
    public void JumpReluWithoutThreshold() =>
        AssertFails(Write("nothreshold", """{"architecture": "jumprelu", "d_in": 3, "d_sae": 4}""", GoodTensors()), "sae_weights.safetensors", "no tensor 'threshold'");

    [Fact]
    public void TensorTransposed() =>
        AssertFails(Write("transposed", GoodCfg, [T("W_enc", [4, 3]), T("b_enc", [4]), T("W_dec", [4, 3]), T("b_dec", [3])]),
            "sae_weights.safetensors", "'W_enc' has shape [4, 3]", "expected [d_in, d_sae] = [3, 4]");

    [Fact]
    public void ConfigDisagreesWithTheTensors() =>
        AssertFails(Write("mismatch", """{"architecture": "standard", "d_in": 3, "d_sae": 5}""", GoodTensors()), "sae_weights.safetensors", "'W_enc' has shape [3, 4]", "expected [d_in, d_sae] = [3, 5]");

    [Fact]
    public void UnsupportedDType() =>
        AssertFails(Write("int", GoodCfg, [T("W_enc", [3, 4], 1, "I32"), T("b_enc", [4]), T("W_dec", [4, 3]), T("b_dec", [3])]), "sae_weights.safetensors", "dtype I32 is not supported");

    [Fact]
    public void NonFiniteWeight() =>
        AssertFails(Write("nan", GoodCfg, [T("W_enc", [3, 4]), T("b_enc", [4]), T("W_dec", [4, 3], float.NaN), T("b_dec", [3])]), "sae_weights.safetensors", "'W_dec'", "finite");

    [Fact]
    public void TruncatedWeights()
    {
        var dir = Write("short", GoodCfg, GoodTensors());
        var file = Path.Combine(dir, "sae_weights.safetensors");
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..^5]);
        AssertFails(dir, "sae_weights.safetensors", "'b_dec'", "truncated file");
    }

    [Fact]
    public void TruncatedInsideTheHeader()
    {
        var dir = Write("header", GoodCfg, GoodTensors());
        var file = Path.Combine(dir, "sae_weights.safetensors");
        File.WriteAllBytes(file, File.ReadAllBytes(file)[..40]);
        AssertFails(dir, "sae_weights.safetensors", "truncated file");
    }

    [Fact]
    public void EmptyWeights()
    {
        var dir = Write("emptyweights", GoodCfg, GoodTensors());
        File.WriteAllBytes(Path.Combine(dir, "sae_weights.safetensors"), []);
        AssertFails(dir, "sae_weights.safetensors", "empty");
    }

    [Fact]
    public void SparsifyTranscoderIsRefused() =>
        AssertFails(Write("transcoder", """{"d_in": 3, "num_latents": 4, "k": 2, "transcode": true}""",
            [T("encoder.weight", [4, 3]), T("encoder.bias", [4]), T("W_dec", [4, 3]), T("b_dec", [3])], "sae.safetensors"), "cfg.json", "'transcode' is true");

    [Fact]
    public void SparsifyWrongLatentCount() =>
        AssertFails(Write("latents", """{"d_in": 3, "expansion_factor": 2, "k": 2}""",
            [T("encoder.weight", [4, 3]), T("encoder.bias", [4]), T("W_dec", [4, 3]), T("b_dec", [3])], "sae.safetensors"), "sae.safetensors", "'encoder.weight' has shape [4, 3]", "expected [num_latents, d_in] = [6, 3]");

    [Fact]
    public void SparsifyRootWithSeveralHookpoints()
    {
        var root = _root["multi"];
        foreach (var hook in new[] { "layers.0", "layers.1" })
            Write(Path.Combine("multi", hook), """{"d_in": 3, "num_latents": 4, "k": 2}""",
                [T("encoder.weight", [4, 3]), T("encoder.bias", [4]), T("W_dec", [4, 3]), T("b_dec", [3])], "sae.safetensors");
        AssertFails(root, "multi", "2 SAEs", "layers.0", "layers.1", "name one");
        Assert.Equal(SaeLayout.Sparsify, SaeModel.Load(Path.Combine(root, "layers.1")).Layout);
    }
}
