namespace GbaEngine.Tests.Architecture;

/// <summary>
/// The library is a stack of layers (docs/architecture.md): a namespace may use its own types and
/// those of the layers below it, never those above. These tests read every reference the compiled
/// assemblies make (signatures, fields, base types, attributes, locals and every type, method and
/// field token in the IL, closures and iterators included) and fail on any upward reference, which
/// also rules out cycles.
/// </summary>
public class LayeringTests
{
    /// <summary>GbaEngine's namespaces, lowest first: base, data, model, encoders, SAE files and inference,
    /// evaluation, training, checkpoint persistence, uses of a trained SAE.</summary>
    public static readonly string[] EngineLayers =
    [
        "Rng", "Memory", "Threading", "Collectives", "Kernels", "Formats",
        "Streams", "Activations", "Synthetic",
        "Model", "Encoders", "Interop", "Inference", "Evaluation", "Training", "Checkpoints", "Uses",
    ];

    [Fact]
    public void EngineReferencesRunOnlyDownwards() =>
        ReferenceScanner.AssertLayered(typeof(Model.SparseAutoencoder).Assembly, "GbaEngine", EngineLayers);

    [Fact]
    public void EveryEngineNamespaceHasALayer()
    {
        var unknown = typeof(Model.SparseAutoencoder).Assembly.GetTypes()
            .Select(t => ReferenceScanner.Layer(t, "GbaEngine")).Where(n => n is not null && Array.IndexOf(EngineLayers, n) < 0).Distinct().ToList();
        Assert.True(unknown.Count == 0, $"namespaces without a layer: {string.Join(", ", unknown)} (add them to EngineLayers and docs/architecture.md)");
    }
}
