using Google.Protobuf;
using Onnx;

namespace GbaEngine.Onnx.Graph;

/// <summary>
/// An ONNX model read into its protobuf form (<see cref="ModelProto"/>, types from the OnnxSharp package), checked
/// for the damage a parser alone would miss, and edited by copy: ONNX Runtime returns only declared graph outputs,
/// so capturing an internal tensor means declaring it as an output (<see cref="WithOutputs"/>), and splicing a
/// value in means turning a tensor into a graph input (<see cref="Splice"/>). Both edits prune the nodes the new
/// outputs no longer need, so a harvest stops at its hooks and the second half of a cut model starts at the hook.
/// The model's own file is never changed.
/// </summary>
public sealed class OnnxGraph
{
    readonly ModelProto _model;
    readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
    readonly HashSet<string> _initializers = new(StringComparer.Ordinal);

    OnnxGraph(string path, ModelProto model)
    {
        Path = path;
        _model = model;
        foreach (var node in model.Graph.Node)
            foreach (var output in node.Output)
                if (output.Length > 0) _producer[output] = node;
        foreach (var init in model.Graph.Initializer) _initializers.Add(init.Name);
        foreach (var init in model.Graph.SparseInitializer) _initializers.Add(init.Values.Name);
    }

    /// <summary>The file the model was read from (named in every error).</summary>
    public string Path { get; }

    /// <summary>The model as read (treat as read-only: edits return copies).</summary>
    public ModelProto Model => _model;

    /// <summary>The graph's inputs that are not initializers (what a caller must feed).</summary>
    public IEnumerable<ValueInfoProto> Inputs => _model.Graph.Input.Where(i => !_initializers.Contains(i.Name));

    /// <summary>The graph's declared outputs.</summary>
    public IReadOnlyList<ValueInfoProto> Outputs => _model.Graph.Output;

    /// <summary>The node that computes <paramref name="tensor"/>, or null for inputs, initializers and unknown names.</summary>
    public NodeProto? Producer(string tensor) => _producer.GetValueOrDefault(tensor);

    /// <summary>Whether some node computes a tensor of this name.</summary>
    public bool HasTensor(string tensor) => _producer.ContainsKey(tensor);

    /// <summary>Every tensor a node computes, in the graph's (topological) node order.</summary>
    public IEnumerable<(string Name, NodeProto Node)> NodeOutputs() =>
        _model.Graph.Node.SelectMany(n => n.Output.Where(o => o.Length > 0).Select(o => (o, n)));

    /// <summary>
    /// Reads and checks an .onnx file. Throws <see cref="FileNotFoundException"/> or <see cref="InvalidDataException"/>
    /// naming the file for anything that is not a complete ONNX model: unparsable bytes, no graph, or a node that reads
    /// a tensor nothing defines (how a file cut at a field boundary shows, since protobuf itself cannot tell).
    /// </summary>
    public static OnnxGraph Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: model file not found.", path);
        ModelProto model;
        try
        {
            using var stream = File.OpenRead(path);
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{path}: not a readable ONNX model (truncated or not an .onnx file): {e.Message}", e);
        }
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw new InvalidDataException($"{path}: not an ONNX model (no graph or no nodes; truncated or not an .onnx file).");
        if (model.OpsetImport.Count == 0 || model.IrVersion == 0)
            throw new InvalidDataException($"{path}: not an ONNX model (no IR version or opset import; truncated or not an .onnx file).");
        var graph = new OnnxGraph(path, model);
        graph.CheckWiring();
        return graph;
    }

    /// <summary>Every node input and graph output names a graph input, an initializer or a node output; subgraphs
    /// (If/Loop bodies) may also read their parent's values, so they are not followed.</summary>
    void CheckWiring()
    {
        var defined = new HashSet<string>(_initializers, StringComparer.Ordinal);
        foreach (var i in _model.Graph.Input) defined.Add(i.Name);
        foreach (var node in _model.Graph.Node)
        {
            foreach (var input in node.Input)
                if (input.Length > 0 && !defined.Contains(input) && !_producer.ContainsKey(input))
                    throw new InvalidDataException($"{Path}: node '{node.Name}' ({node.OpType}) reads '{input}', which no node, input or initializer defines (truncated or damaged file).");
        }
        foreach (var o in _model.Graph.Output)
            if (!defined.Contains(o.Name) && !_producer.ContainsKey(o.Name))
                throw new InvalidDataException($"{Path}: graph output '{o.Name}' is computed by no node (truncated or damaged file).");
    }

    /// <summary>
    /// A copy whose outputs are exactly <paramref name="outputs"/> (declared outputs keep their type; other
    /// tensors are declared without one, which ONNX Runtime infers), pruned to the nodes they need.
    /// </summary>
    public ModelProto WithOutputs(IReadOnlyList<string> outputs)
    {
        var model = _model.Clone();
        SetOutputs(model.Graph, outputs);
        Prune(model.Graph);
        return model;
    }

    /// <summary>
    /// A copy in which <paramref name="hook"/> is a graph input of element type <paramref name="elementType"/>
    /// instead of a computed tensor: every consumer of the hook now reads what the caller feeds. The node that
    /// computed it keeps running only if something else still needs it; <paramref name="outputs"/> become the
    /// graph outputs. Inputs the remaining nodes no longer read are dropped (see <see cref="InputNames"/>).
    /// </summary>
    public ModelProto Splice(string hook, TensorProto.Types.DataType elementType, IReadOnlyList<string> outputs)
    {
        var producer = Producer(hook) ?? throw MissingTensor(hook);
        var model = _model.Clone();
        var graph = model.Graph;
        // The producer's output gets a name nobody reads, so the hook's name now means the new input (ONNX
        // values are single-assignment: an input and a node output may not share a name).
        int index = _model.Graph.Node.IndexOf(producer);
        var node = graph.Node[index];
        for (int k = 0; k < node.Output.Count; k++)
            if (node.Output[k] == hook) node.Output[k] = hook + "/gba-cut";
        graph.Input.Add(new ValueInfoProto
        {
            Name = hook,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType } },
        });
        SetOutputs(graph, outputs);
        Prune(graph);
        return model;
    }

    /// <summary>
    /// The vocabulary size: the rows of the embedding table an integer input indexes (a Gather on an initializer,
    /// possibly after a Cast), else the last axis of a declared output with a fixed size there
    /// when exactly one output has one; null when neither tells.
    /// </summary>
    public long? Vocabulary()
    {
        var ids = Inputs.Where(i => i.Type?.TensorType?.ElemType is (int)TensorProto.Types.DataType.Int64 or (int)TensorProto.Types.DataType.Int32)
            .Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var node in _model.Graph.Node)
            if (node.OpType == "Cast" && node.Input.Count > 0 && ids.Contains(node.Input[0])) ids.Add(node.Output[0]);
        var tables = _model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var node in _model.Graph.Node)
            if (node.OpType == "Gather" && node.Input.Count == 2 && ids.Contains(node.Input[1]) && tables.TryGetValue(node.Input[0], out var table) && table.Dims.Count == 2)
                return table.Dims[0];
        var fixedLast = _model.Graph.Output.Select(LastAxis).Where(d => d > 0).ToList();
        return fixedLast.Count == 1 ? fixedLast[0] : null;
    }

    /// <summary>The declared size of a value's last axis, or 0 when unknown or dynamic.</summary>
    public static long LastAxis(ValueInfoProto value)
    {
        var shape = value.Type?.TensorType?.Shape;
        if (shape is null || shape.Dim.Count == 0) return 0;
        var last = shape.Dim[^1];
        return last.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? last.DimValue : 0;
    }

    /// <summary>The names of a model's inputs that are not initializers.</summary>
    public static IReadOnlyList<string> InputNames(ModelProto model)
    {
        var inits = model.Graph.Initializer.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        return model.Graph.Input.Where(i => !inits.Contains(i.Name)).Select(i => i.Name).ToList();
    }

    /// <summary>The error for a tensor name the graph does not compute, with the closest names as hints.</summary>
    public InvalidDataException MissingTensor(string name)
    {
        var hints = _producer.Keys.Where(k => k.Contains(name, StringComparison.OrdinalIgnoreCase) || name.Contains(k, StringComparison.OrdinalIgnoreCase))
            .Take(5).ToList();
        string hint = hints.Count > 0 ? $" Similar names: {string.Join(", ", hints)}." : "";
        return new InvalidDataException($"{Path}: no tensor named '{name}' is computed in this model.{hint} Run 'gba harvest --model {Path} --list' for the candidates.");
    }

    void SetOutputs(GraphProto graph, IReadOnlyList<string> outputs)
    {
        var declared = graph.Output.ToDictionary(o => o.Name, StringComparer.Ordinal);
        var typed = graph.ValueInfo.GroupBy(v => v.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        graph.Output.Clear();
        foreach (var name in outputs)
        {
            if (!declared.ContainsKey(name) && !_producer.ContainsKey(name)) throw MissingTensor(name);
            graph.Output.Add(declared.TryGetValue(name, out var d) ? d : typed.TryGetValue(name, out var t) ? t.Clone() : new ValueInfoProto { Name = name });
        }
    }

    /// <summary>Keeps the nodes some output depends on, the initializers and value infos they read, and the
    /// inputs they read (an input that nothing reads any more would have to be fed for nothing).</summary>
    static void Prune(GraphProto graph)
    {
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Node.Count; i++)
            foreach (var o in graph.Node[i].Output)
                if (o.Length > 0) producer[o] = i;
        var needed = new HashSet<string>(StringComparer.Ordinal);
        var keep = new bool[graph.Node.Count];
        var stack = new Stack<string>(graph.Output.Select(o => o.Name));
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!needed.Add(name) || !producer.TryGetValue(name, out int i) || keep[i]) continue;
            keep[i] = true;
            foreach (var input in graph.Node[i].Input) if (input.Length > 0) stack.Push(input);
            foreach (var attr in graph.Node[i].Attribute) foreach (var outer in SubgraphReads(attr)) stack.Push(outer);
        }
        var nodes = graph.Node.Where((_, i) => keep[i]).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        Retain(graph.Initializer, t => needed.Contains(t.Name));
        Retain(graph.Input, v => needed.Contains(v.Name));
        Retain(graph.ValueInfo, v => needed.Contains(v.Name));
    }

    /// <summary>Names a subgraph (If/Loop/Scan body) reads from its parent; a superset is fine (it only keeps more).</summary>
    static IEnumerable<string> SubgraphReads(AttributeProto attr)
    {
        var graphs = attr.G is null ? attr.Graphs : attr.Graphs.Append(attr.G);
        foreach (var g in graphs)
            foreach (var node in g.Node)
            {
                foreach (var input in node.Input) if (input.Length > 0) yield return input;
                foreach (var inner in node.Attribute) foreach (var name in SubgraphReads(inner)) yield return name;
            }
    }

    static void Retain<T>(Google.Protobuf.Collections.RepeatedField<T> field, Func<T, bool> keep)
    {
        var kept = field.Where(keep).ToList();
        field.Clear();
        field.AddRange(kept);
    }
}
