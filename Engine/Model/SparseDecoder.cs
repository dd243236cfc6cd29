using GbaEngine.Kernels.Elementwise;

namespace GbaEngine.Model;

/// <summary>x̂ = b_pre + Σ_m a_m h_m w_m from one token's sparse code: O(L0·d), the decoder's only form.</summary>
public static class SparseDecoder
{
    /// <param name="xhat">[≥ Stride] output in the normalised space.</param>
    /// <param name="set">Kernel set (default: <see cref="Kernels.KernelSelector.Current"/>).</param>
    public static void Reconstruct(SaeParameters p, ReadOnlySpan<int> index, ReadOnlySpan<float> h, Span<float> xhat, Kernels.KernelSet? set = null)
    {
        var kernels = set ?? Kernels.KernelSelector.Current;
        var scale = p.Scale;
        var dst = xhat[..p.Stride];
        p.PreBias.CopyTo(dst);
        for (int r = 0; r < index.Length; r++)
        {
            int m = index[r];
            Blas1.Axpy(scale[m] * h[r], p.DecoderRow(m), dst, kernels);
        }
    }
}
