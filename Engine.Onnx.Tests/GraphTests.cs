using GbaEngine.Formats;
using GbaEngine.Onnx.Graph;
using GbaEngine.Onnx.Harvest;
using GbaEngine.Onnx.Runtime;
using GbaEngine.Onnx.Tokens;
using Google.Protobuf;
using Onnx;

namespace GbaEngine.Onnx.Tests;

/// <summary>Graph listing and editing, and the hostile models and inputs: each gets one clear error naming what is wrong.</summary>
public class GraphTests
{
    [Fact]
    public void The_listing_finds_every_torch_hook_with_its_shape_op_and_block()
    {
        var (candidates, outputs) = HookCatalog.List(OnnxGraph.Load(Fixture.Model));
        Assert.True(outputs > candidates.Count);
        foreach (var (torch, onnx) in Fixture.Hooks)
        {
            var c = Assert.Single(candidates, c => c.Name == onnx);
            Assert.Equal(["batch", "sequence", torch.EndsWith("mlp_act") ? "128" : "32"], c.Shape);
            Assert.Equal("float32", c.ElementType);
            string block = torch.StartsWith("blocks.") ? "/" + torch[..8] : "";
            Assert.Equal(block, c.Block);
            Assert.Equal(torch.EndsWith("resid_post") || torch == "embed", c.LeavesBlock);
        }
        Assert.Equal("Add", candidates.Single(c => c.Name == Fixture.OnnxName("blocks.0.resid_post")).OpType);
        Assert.DoesNotContain(candidates, c => c.Shape.Length != 3 && c.Shape[0] != "batch*sequence");
    }

    [Fact]
    public void Adding_outputs_prunes_the_graph_to_what_they_need()
    {
        var graph = OnnxGraph.Load(Fixture.Model);
        var cut = graph.WithOutputs([Fixture.OnnxName("embed")]);
        Assert.True(cut.Graph.Node.Count < graph.Model.Graph.Node.Count / 4);
        Assert.Equal([Fixture.OnnxName("embed")], cut.Graph.Output.Select(o => o.Name));
        var spliced = graph.Splice(Fixture.OnnxName("blocks.1.resid_post"), TensorProto.Types.DataType.Float, ["logits"]);
        // After the last block only the final LayerNorm and the head remain; the token ids are no longer read.
        Assert.Equal([Fixture.OnnxName("blocks.1.resid_post")], OnnxGraph.InputNames(spliced));
        Assert.True(spliced.Graph.Node.Count <= 4);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    [InlineData(0.02)]
    public void A_truncated_model_is_one_error_naming_the_file(double keep)
    {
        using var dir = new Scratch();
        var bytes = File.ReadAllBytes(Fixture.Model);
        File.WriteAllBytes(dir["cut.onnx"], bytes[..(int)(bytes.Length * keep)]);
        var e = Assert.Throws<InvalidDataException>(() => OnnxGraph.Load(dir["cut.onnx"]));
        Assert.StartsWith(dir["cut.onnx"], e.Message);
    }

    [Fact]
    public void Every_cut_at_a_node_boundary_is_caught()
    {
        // Protobuf parses a file cut between two fields; only the wiring check can tell it is incomplete.
        var model = OnnxGraph.Load(Fixture.Model).Model.Clone();
        model.Graph.Node.RemoveAt(model.Graph.Node.Count / 2);
        using var dir = new Scratch();
        File.WriteAllBytes(dir["holed.onnx"], model.ToByteArray());
        var e = Assert.Throws<InvalidDataException>(() => OnnxGraph.Load(dir["holed.onnx"]));
        Assert.Contains("which no node, input or initializer defines", e.Message);
    }

    [Fact]
    public void A_missing_hook_names_itself_and_suggests_similar_names()
    {
        using var dir = new Scratch();
        var e = Assert.Throws<InvalidDataException>(() =>
            Harvester.Run(new HarvestOptions(Fixture.Model, ["/blocks.0/Add_9"], dir["out"]), TokenSequences.FromNpy(Fixture.TokenIds)));
        Assert.Contains("no tensor named '/blocks.0/Add_9'", e.Message);
        Assert.Contains("--list", e.Message);
        Assert.False(Directory.Exists(dir["out"]));
    }

    [Fact]
    public void Out_of_vocabulary_ids_name_the_file_sequence_and_position()
    {
        using var dir = new Scratch();
        var ids = TokenSequences.FromNpy(Fixture.TokenIds).Ids.ToArray();
        ids[Fixture.Context + 3] = Fixture.Vocabulary;
        var tokens = TokenSequences.FromIds(ids, 4, Fixture.Context, "ids.npy");
        var e = Assert.Throws<InvalidDataException>(() => Harvester.Run(new HarvestOptions(Fixture.Model, [Fixture.SpliceHook], dir["out"]), tokens));
        Assert.Equal($"ids.npy: sequence 1, position 3: token id {Fixture.Vocabulary} is outside the model's vocabulary [0, {Fixture.Vocabulary}) ({Fixture.Model}).", e.Message);
        ids[Fixture.Context + 3] = -1;
        Assert.Throws<InvalidDataException>(() => Harvester.Run(new HarvestOptions(Fixture.Model, [Fixture.SpliceHook], dir["out"]), tokens));
    }

    [Fact]
    public void Token_ids_of_the_wrong_rank_or_dtype_are_rejected_by_file()
    {
        using var dir = new Scratch();
        File.WriteAllBytes(dir["flat.npy"], Npy("<i8", "(64,)", new byte[64 * 8]));
        var e = Assert.Throws<ActivationFormatException>(() => TokenSequences.FromNpy(dir["flat.npy"]));
        Assert.Contains("must be 2-D [sequences, tokens]", e.Message);
        File.WriteAllBytes(dir["float.npy"], Npy("<f4", "(4, 16)", new byte[64 * 4]));
        e = Assert.Throws<ActivationFormatException>(() => TokenSequences.FromNpy(dir["float.npy"]));
        Assert.Contains("'<i4' or '<i8'", e.Message);
        File.WriteAllBytes(dir["short.npy"], Npy("<i4", "(4, 16)", new byte[63 * 4]));
        e = Assert.Throws<ActivationFormatException>(() => TokenSequences.FromNpy(dir["short.npy"]));
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(3, TensorProto.Types.DataType.Int64, "has rank 3")]
    [InlineData(2, TensorProto.Types.DataType.Float, "must be int32 or int64")]
    public void A_model_whose_input_is_not_token_ids_is_refused(int rank, TensorProto.Types.DataType type, string expected)
    {
        // The fixture with its input declared otherwise: ONNX Runtime loads it, the session refuses to feed it ids.
        var model = OnnxGraph.Load(Fixture.Model).Model.Clone();
        var input = model.Graph.Input[0];
        input.Type.TensorType.ElemType = (int)type;
        while (input.Type.TensorType.Shape.Dim.Count < rank) input.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "extra" });
        var e = Assert.ThrowsAny<InvalidDataException>(() => new TokenModelSession("edited.onnx", model, 1).Dispose());
        Assert.StartsWith("edited.onnx", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_tokenizer_with_more_ids_than_the_model_is_not_its_tokenizer()
    {
        using var dir = new Scratch();
        var tokenizer = TextTokenizer.Load(Fixture.Tokenizer);
        var tokens = TokenSequences.FromIds(new long[32], 2, 16, "zeros", tokenizer);
        var e = Assert.Throws<InvalidDataException>(() => tokens.CheckVocabulary(100, "small.onnx"));
        Assert.Equal($"{Fixture.Tokenizer}: the tokenizer has {tokenizer.VocabularySize} ids but the model small.onnx has 100: it is not this model's tokenizer.", e.Message);
    }

    internal static byte[] Npy(string descr, string shape, byte[] data)
    {
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = (10 + dict.Length + 1 + 63) / 64 * 64;
        var header = new byte[total];
        header[0] = 0x93;
        "NUMPY"u8.CopyTo(header.AsSpan(1));
        header[6] = 1;
        BitConverter.TryWriteBytes(header.AsSpan(8, 2), (ushort)(total - 10));
        System.Text.Encoding.ASCII.GetBytes(dict.PadRight(total - 11)).CopyTo(header, 10);
        header[^1] = (byte)'\n';
        return [.. header, .. data];
    }
}
