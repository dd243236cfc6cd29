using System.Text.RegularExpressions;
using GbaEngine.Onnx.Runtime;

namespace GbaEngine.Onnx.Graph;

/// <summary>One tensor a harvest can capture: a per-token vector [batch, sequence, d] computed inside the model.</summary>
/// <param name="Name">The tensor's name in the graph (what --hook takes).</param>
/// <param name="OpType">The op that computes it (Add, LayerNormalization, MatMul, ...).</param>
/// <param name="Block">The module scope of its node up to the first numbered component ("/blocks.3", "/model/layers.11"), or "" outside numbered blocks.</param>
/// <param name="Shape">Its shape with the dynamic axes named: "batch", "sequence", or "batch*sequence".</param>
/// <param name="Width">d, the width of one token's vector.</param>
/// <param name="ElementType">float32, float16 or bfloat16.</param>
/// <param name="LeavesBlock">Read by a node of another block: the block's output (the residual stream after it, for most transformers).</param>
public sealed record HookCandidate(string Name, string OpType, string Block, string[] Shape, int Width, string ElementType, bool LeavesBlock);

/// <summary>
/// Finds the hook candidates of a model: every node output whose value is a float tensor with one vector per token.
/// Shapes come from running the model with every node output declared as an output, twice, at two batch and
/// sequence sizes (value_info in the file is optional and often missing): an axis that follows the batch size is
/// "batch", one that follows the sequence length "sequence". Attention scores and reshaped heads are left out.
/// </summary>
public static class HookCatalog
{
    static readonly Regex BlockScope = new(@"^(.*?\.\d+)/", RegexOptions.CultureInvariant);

    /// <summary>The candidates in graph (topological) order, and the number of node outputs looked at.</summary>
    public static (IReadOnlyList<HookCandidate> Candidates, int NodeOutputs) List(OnnxGraph graph, int threads = 1)
    {
        var outputs = graph.NodeOutputs().Where(o => o.Node.OpType is not ("Constant" or "Shape" or "ConstantOfShape")).ToList();
        var names = outputs.Select(o => o.Name).ToList();
        using var session = new TokenModelSession(graph.Path, graph.WithOutputs(names), threads);
        (int B, int T)[] probes = session.FixedBatch is null && session.FixedSequence is null ? [(2, 5), (3, 7)]
            : [(session.FixedBatch ?? 2, session.FixedSequence ?? 5)];
        var shapes = new List<long[][]>();
        var types = new string[names.Count];
        foreach (var (b, t) in probes)
        {
            using var result = session.Run(new long[b * t], b, t);
            var s = new long[names.Count][];
            for (int i = 0; i < names.Count; i++)
            {
                s[i] = result.Shape(i);
                types[i] = result.ElementType(i) switch
                {
                    Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float => "float32",
                    Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16 => "float16",
                    Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.BFloat16 => "bfloat16",
                    _ => "",
                };
            }
            shapes.Add(s);
        }

        var block = outputs.Select(o => BlockOf(o.Node.Name)).ToList();
        var blockOfTensor = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) blockOfTensor[names[i]] = block[i];
        var leaves = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in graph.Model.Graph.Node)
        {
            var here = BlockOf(node.Name);
            foreach (var input in node.Input)
                if (blockOfTensor.TryGetValue(input, out var from) && from != here) leaves.Add(input);
        }
        foreach (var o in graph.Outputs) leaves.Add(o.Name);

        var list = new List<HookCandidate>();
        for (int i = 0; i < names.Count; i++)
        {
            if (types[i].Length == 0) continue;
            var labels = Label(shapes.Select(s => s[i]).ToList(), probes);
            if (labels is null) continue;
            list.Add(new HookCandidate(names[i], outputs[i].Node.OpType, block[i], labels, (int)shapes[0][i][^1], types[i], leaves.Contains(names[i])));
        }
        return (list, names.Count);
    }

    /// <summary>The module scope of a node name up to its first numbered component, or "".</summary>
    public static string BlockOf(string nodeName)
    {
        var m = BlockScope.Match(nodeName);
        return m.Success ? m.Groups[1].Value : "";
    }

    /// <summary>Names the axes of a per-token tensor, or null when it is not [batch, sequence, d] or [batch*sequence, d].</summary>
    static string[]? Label(List<long[]> shapes, (int B, int T)[] probes)
    {
        var first = shapes[0];
        if (first.Length is < 2 or > 3 || shapes.Any(s => s.Length != first.Length)) return null;
        if (shapes.Any(s => s[^1] != first[^1]) || first[^1] < 1) return null;
        bool Is(int axis, Func<(int B, int T), long> size) => shapes.Select((s, k) => s[axis] == size(probes[k])).All(x => x);
        if (first.Length == 3 && Is(0, p => p.B) && Is(1, p => p.T)) return ["batch", "sequence", first[2].ToString()];
        if (first.Length == 2 && Is(0, p => (long)p.B * p.T)) return ["batch*sequence", first[1].ToString()];
        return null;
    }
}
