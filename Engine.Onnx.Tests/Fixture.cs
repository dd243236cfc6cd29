using System.Text.Json.Nodes;
using GbaEngine.Activations;

namespace GbaEngine.Onnx.Tests;

/// <summary>
/// The torch-made fixture of tools/onnx/make_fixture.py (copied beside the test assembly): a tiny trained causal
/// transformer exported to ONNX, its SentencePiece tokenizer, token ids, and torch's hidden states, logits and losses.
/// </summary>
static class Fixture
{
    public static string Dir => Path.Combine(AppContext.BaseDirectory, "fixture");
    public static string Model => Path.Combine(Dir, "tiny.onnx");
    public static string TokenIds => Path.Combine(Dir, "token_ids.npy");
    public static string Text => Path.Combine(Dir, "docs.txt");
    public static string Tokenizer => Path.Combine(Dir, "tokenizer.model");
    public static string Sae => Path.Combine(Dir, "sae");

    static readonly Lazy<JsonNode> Meta = new(() => JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "fixture.json")))!);

    public static int Context => Meta.Value["tokens"]!["context"]!.GetValue<int>();
    public static int Vocabulary => Meta.Value["vocab"]!.GetValue<int>();

    /// <summary>torch's hook names (embed, blocks.0.resid_mid, ...) and the ONNX tensor each one is.</summary>
    public static IReadOnlyList<(string Torch, string Onnx)> Hooks =>
        Meta.Value["hooks"]!.AsObject().Select(kv => (kv.Key, kv.Value!["onnx"]!.GetValue<string>())).ToList();

    public static string OnnxName(string torchHook) => Meta.Value["hooks"]![torchHook]!["onnx"]!.GetValue<string>();

    /// <summary>A number from the "losses" object (ce_clean, ce_zero_ablated, kl_sae, ...).</summary>
    public static double Loss(string key) => Meta.Value["losses"]![key]!.GetValue<double>();

    public static string SpliceHook => Meta.Value["losses"]!["hook"]!.GetValue<string>();

    /// <summary>torch's value of a hook, [S·T × d] rows (sequence-major).</summary>
    public static float[] Reference(string torchHook) => ReadRows(Path.Combine(Dir, "ref", torchHook + ".npy"));

    /// <summary>Every row of an activation file or directory, in file order, through the engine's loader.</summary>
    public static float[] ReadRows(string path, string? tensor = null)
    {
        using var ds = ActivationDataset.Open(path, new LoaderOptions { TensorName = tensor, EvalRows = long.MaxValue });
        var rows = new float[ds.EvalRows * ds.Dim];
        using var stream = ds.OpenEvalStream();
        stream.NextBatch(rows, (int)ds.EvalRows);
        return rows;
    }

    /// <summary>max |a − b| / (1 + |b|): float32 agreement between ONNX Runtime and torch, whose kernels sum in different orders.</summary>
    public static double MaxRelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / (1 + Math.Abs(expected[i])));
        return worst;
    }
}

/// <summary>A fresh directory under the temp path, deleted on dispose.</summary>
sealed class Scratch : IDisposable
{
    public Scratch() => Directory.CreateDirectory(Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gba-onnx-" + Guid.NewGuid().ToString("N")));
    public string Path { get; }
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
