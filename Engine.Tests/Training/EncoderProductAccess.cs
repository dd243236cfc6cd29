using GbaEngine.Kernels;

namespace GbaEngine.Tests.Training;

/// <summary>Test access to the engine's internal encoder product.</summary>
internal static class EncoderProductAccess
{
    public static unsafe void Compute(float* xc, int xStride, int tokens, int d, float* wt, int mPad, float* z, KernelSet set) =>
        GbaEngine.Training.EncoderProduct.Compute(xc, xStride, tokens, d, wt, mPad, z, set);
}
