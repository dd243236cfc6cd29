namespace GbaEngine.Tests.Architecture;

/// <summary>
/// Only what a .NET user needs is public (trainer, options, model, loader, inference, evaluation,
/// checkpoints, formats): the kernels, the SGEMM, buffers, the worker pool and the training internals
/// are internal (tests and benchmarks see them through InternalsVisibleTo).
/// </summary>
public class PublicSurfaceTests
{
    [Fact]
    public void KernelsBuffersAndThreadsAreInternal()
    {
        var exposed = typeof(Model.SparseAutoencoder).Assembly.GetExportedTypes()
            .Where(t => t.Namespace is "GbaEngine.Memory" or "GbaEngine.Threading" || t.Namespace!.StartsWith("GbaEngine.Kernels.", StringComparison.Ordinal)
                        || t.Namespace == "GbaEngine.Kernels" && t != typeof(GbaEngine.Kernels.KernelSet) && t != typeof(GbaEngine.Kernels.KernelSelector))
            .Select(t => t.FullName).ToList();
        Assert.True(exposed.Count == 0, "public, but internal machinery: " + string.Join(", ", exposed));
    }

    [Fact]
    public void EveryPublicTypeIsDocumented()
    {
        // The build turns a missing XML doc on any public member into an error (CS1591 is not suppressed for Engine);
        // this checks the documentation file actually ships with the assembly.
        var xml = Path.ChangeExtension(typeof(Model.SparseAutoencoder).Assembly.Location, ".xml");
        Assert.True(File.Exists(xml), xml);
        var text = File.ReadAllText(xml);
        foreach (var t in typeof(Model.SparseAutoencoder).Assembly.GetExportedTypes())
            Assert.True(text.Contains($"\"T:{t.FullName!.Replace('+', '.')}\"", StringComparison.Ordinal), $"{t.FullName} has no XML doc");
    }
}
