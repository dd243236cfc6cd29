using GbaEngine.Encoders;
using GbaEngine.Memory;
using GbaEngine.Model;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// The engine's own path for raw activations, which every export is compared against: normalise, encode with
/// the fused <see cref="BatchEncoder"/> (one thread), decode with <see cref="SparseDecoder"/>, and scale back.
/// </summary>
internal static class EnginePath
{
    /// <summary>The normalised batch [rows × Stride], each token's normalisation factor and the batch's code.</summary>
    public static (AlignedArray X, float[] Factors, SparseCode Code) Encode(SparseAutoencoder sae, float[] raw, int rows)
    {
        var x = new AlignedArray((long)rows * sae.Parameters.Stride);
        var factors = new float[rows];
        sae.NormalizeBatch(raw, rows, x.Span, factors);
        var code = new SparseCode();
        using (var encoder = new BatchEncoder(sae.Architecture, sae.Parameters, rows, 1)) encoder.Encode(x, rows, code, null);
        return (x, factors, code);
    }

    /// <summary>Token t's reconstruction [d] from the code, in the raw activations' scale.</summary>
    public static float[] RawReconstruction(SparseAutoencoder sae, SparseCode code, float[] factors, int t)
    {
        var xhat = new float[sae.Parameters.Stride];
        SparseDecoder.Reconstruct(sae.Parameters, code.Indices(t), code.Values(t), xhat);
        return xhat.Take(sae.Dim).Select(v => v * factors[t]).ToArray();
    }
}
