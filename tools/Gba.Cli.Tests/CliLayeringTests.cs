using GbaEngine.Tests.Architecture;

namespace GbaEngine.Cli.Tests;

/// <summary>The gba tool's namespaces form layers too (docs/architecture.md): no cycle between them.</summary>
public class CliLayeringTests
{
    /// <summary>Lowest first: the option schema, run files, charts and report, experiments, sweeps, then the commands on top.</summary>
    public static readonly string[] CliLayers = ["Options", "Runs", "Report", "Experiments", "Sweeps", "Commands"];

    [Fact]
    public void CliReferencesRunOnlyDownwards() => ReferenceScanner.AssertLayered(typeof(CliApp).Assembly, "GbaEngine.Cli", CliLayers);
}
