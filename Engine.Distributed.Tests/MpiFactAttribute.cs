namespace GbaEngine.Distributed.Tests;

/// <summary>A fact that needs the launchers of <paramref name="kinds"/>; skipped, saying what to install, only when one is absent.</summary>
public sealed class MpiFactAttribute : FactAttribute
{
    public MpiFactAttribute(params MpiKind[] kinds)
    {
        if (kinds.Select(MpiRunner.Missing).FirstOrDefault(m => m != null) is { } missing) Skip = missing;
    }
}
