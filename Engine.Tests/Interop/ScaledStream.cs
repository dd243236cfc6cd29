using GbaEngine.Streams;
using GbaEngine.Synthetic;

namespace GbaEngine.Tests.Interop;

/// <summary>A synthetic stream with every value multiplied by a factor: raw activations far from unit scale,
/// which an export must fold its input normalisation into.</summary>
internal sealed class ScaledStream(SyntheticStream inner, float factor) : ITokenStream
{
    public int Dim => inner.Dim;
    public long Position => inner.Position;
    public string Describe() => inner.Describe();

    public void NextBatch(Span<float> destination, int rows)
    {
        inner.NextBatch(destination, rows);
        for (int i = 0; i < rows * Dim; i++) destination[i] *= factor;
    }

    public void Dispose() { }
}
