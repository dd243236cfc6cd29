using GbaEngine.Tests.Architecture;

namespace GbaEngine.Onnx.Tests;

/// <summary>GbaEngine.Onnx's namespaces are layered like the engine's (docs/architecture.md): no upward reference, no cycle.</summary>
public class LayeringTests
{
    /// <summary>Lowest first: token rows, the ONNX Runtime session, graph reading and editing (with the hook listing,
    /// which probes the model through a session), then the two uses: harvesting and loss recovered.</summary>
    public static readonly string[] OnnxLayers = ["Tokens", "Runtime", "Graph", "Harvest", "Evaluation"];

    [Fact]
    public void OnnxReferencesRunOnlyDownwards() => ReferenceScanner.AssertLayered(typeof(Harvest.Harvester).Assembly, "GbaEngine.Onnx", OnnxLayers);

    [Fact]
    public void EveryNamespaceHasALayer()
    {
        var unknown = typeof(Harvest.Harvester).Assembly.GetTypes()
            .Select(t => ReferenceScanner.Layer(t, "GbaEngine.Onnx")).Where(n => n is not null && Array.IndexOf(OnnxLayers, n) < 0).Distinct().ToList();
        Assert.True(unknown.Count == 0, $"namespaces without a layer: {string.Join(", ", unknown)}");
    }
}
