using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using GbaEngine.Inference;
using static GbaEngine.Cli.Tests.CliHarness;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba encode`: activations through an SAE into one CSR safetensors file.</summary>
public class EncodeTests
{
    /// <summary>Reads the file by the safetensors spec (not through the writer's code): header, then the three tensors.</summary>
    internal static (long[] Indptr, int[] Indices, float[] Values, JsonObject Header) ReadCsr(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, (int)n))!.AsObject();
        ReadOnlySpan<byte> Data(string name, string dtype)
        {
            Assert.Equal(dtype, header[name]!["dtype"]!.GetValue<string>());
            var off = header[name]!["data_offsets"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            return bytes.AsSpan((int)(8 + n + off[0]), (int)(off[1] - off[0]));
        }
        var indptr = MemoryMarshal.Cast<byte, long>(Data("indptr", "I64")).ToArray();
        var indices = MemoryMarshal.Cast<byte, int>(Data("indices", "I32")).ToArray();
        var values = MemoryMarshal.Cast<byte, float>(Data("values", "F32")).ToArray();
        Assert.Equal(8 + n + (indptr.Length * 8L) + indices.Length * 4L + values.Length * 4L, bytes.Length);
        return (indptr, indices, values, header);
    }

    [Theory]
    [InlineData("gba")]
    [InlineData("topk")]
    public void CodesEqualTheSaeModelsEncodingOfEveryRow(string method)
    {
        using var t = new TempDir();
        Assert.Equal(0, Run("synth", "--out", t["s"], "--tokens", "3000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet").Code);
        var (tc, _, te) = Run("train", "--data", t["s/activations.npy"], "--method", method, "--k", "2", "--d-sae", "64", "--batch", "64", "--steps", "40",
            "--init-tokens", "512", "--buffer-tokens", "640", "--threads", "1", "--out", t["run"], "--quiet");
        Assert.True(tc == 0, te);
        var (code, stdout, err) = Run("encode", "--sae", t["run"], "--data", t["s/activations.npy"], "--out", t["codes/c.safetensors"], "--batch", "700", "--json", "--quiet");
        Assert.True(code == 0, err);
        var json = JsonNode.Parse(LastLine(stdout))!;
        var (indptr, indices, values, header) = ReadCsr(t["codes/c.safetensors"]);
        Assert.Equal("csr", header["__metadata__"]!["format"]!.GetValue<string>());
        Assert.Equal("[3000, 64]", header["__metadata__"]!["shape"]!.GetValue<string>());
        Assert.Equal(3001, indptr.Length);
        Assert.Equal(json["nnz"]!.GetValue<long>(), indptr[^1]);
        Assert.Equal(indices.Length, (int)indptr[^1]);

        // Reference: the same SAE through the inference API on the same rows, in one batch.
        var model = SaeModel.Load(t["run"]);
        var rows = new float[3000 * 16];
        using (var ds = GbaEngine.Activations.ActivationDataset.Open([t["s/activations.npy"]], new GbaEngine.Activations.LoaderOptions { EvalRows = 3000 }))
        using (var s = ds.OpenEvalStream()) s.NextBatch(rows, 3000);
        var expected = model.EncodeBatch(rows, 3000);
        Assert.Equal(expected.Count, indices.Length);
        for (int r = 0; r < 3000; r++)
        {
            Assert.Equal(expected.Indices(r).ToArray(), indices[(int)indptr[r]..(int)indptr[r + 1]]);
            Assert.Equal(expected.Values(r).ToArray(), values[(int)indptr[r]..(int)indptr[r + 1]]);
        }
        if (method == "topk") Assert.All(Enumerable.Range(0, 3000), r => Assert.InRange(indptr[r + 1] - indptr[r], 0, 2));
        Assert.Empty(Directory.GetFiles(t["codes"], ".*"));   // spill and temporary files are gone
    }

    [Fact]
    public void ErrorsAreOneLineAndLeaveNoFile()
    {
        using var t = new TempDir();
        Assert.Equal(0, Run(["train", .. TinyArgs, "--out", t["run"], "--quiet"]).Code);
        Assert.Equal(0, Run("synth", "--out", t["s"], "--tokens", "500", "--features", "16", "--dim", "8", "--sparsity", "1", "--quiet").Code);
        foreach (var (args, expected, message) in new (string[], int, string)[]
        {
            (["--data", t["s/activations.npy"], "--out", t["x.st"]], 2, "--sae DIR is required"),
            (["--sae", t["run"], "--out", t["x.st"]], 2, "--data PATH is required"),
            (["--sae", t["run"], "--data", t["s/activations.npy"]], 2, "--out FILE is required"),
            (["--sae", t["run"], "--data", t["s/activations.npy"], "--out", t["x.st"], "--batch", "0"], 2, "--batch"),
            (["--sae", t["nowhere"], "--data", t["s/activations.npy"], "--out", t["x.st"]], 1, "nowhere"),
            (["--sae", t["run"], "--data", t["s/none.npy"], "--out", t["x.st"]], 1, "none.npy"),
            (["--sae", t["run"], "--data", t["s/activations.npy"], "--out", t["x.st"]], 1, "d = 8"),
        })
        {
            var (code, _, err) = Run(["encode", .. args]);
            Assert.Equal(expected, code);
            Assert.Contains(message, err);
            AssertOneLine(err);
        }
        Assert.False(File.Exists(t["x.st"]));
        Assert.Empty(Directory.GetFiles(t.Path, ".*"));
    }

    [Fact]
    public void OutOfProcess()
    {
        using var t = new TempDir();
        Assert.Equal(0, Run("synth", "--out", t["s"], "--tokens", "1000", "--features", "32", "--dim", "16", "--sparsity", "2", "--quiet").Code);
        Assert.Equal(0, Run(["train", "--data", t["s/activations.npy"], "--d-sae", "64", "--batch", "64", "--steps", "20", "--init-tokens", "512", "--threads", "1", "--out", t["run"], "--quiet"]).Code);
        var (code, stdout, err) = Exec(["encode", "--sae", t["run/sae"], "--data", t["s/activations.npy"], "--out", t["c.safetensors"]]);
        Assert.True(code == 0, err);
        Assert.Contains("1,000 x 64 CSR", stdout);
        Assert.Equal(1001, ReadCsr(t["c.safetensors"]).Indptr.Length);
        Assert.Equal(0, Exec(["encode", "--help"]).Code);
        Assert.Equal(2, Exec(["encode", "--sae"]).Code);
    }
}
