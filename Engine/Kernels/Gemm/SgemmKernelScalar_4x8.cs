// C[MR x NR] := alpha * A~[MR x kc] * B~[kc x NR] + beta * C, on packed panels (see ISgemmMicroKernel).
// Scalar reference tile 4 x 8: the twin of the SIMD kernels, same contract and packing layout.
// Every C element is accumulated in k order with one rounding per multiply-add pair, like the SIMD
// kernels except that those fuse the multiply-add (FMA), so results agree within a k-scaled tolerance.
namespace GbaEngine.Kernels.Gemm;

internal readonly unsafe struct SgemmKernelScalar_4x8 : ISgemmMicroKernel
{
    const int Rows = 4, Cols = 8;

    public static int MR => Rows;
    public static int NR => Cols;
    public static KernelSet Set => KernelSet.Scalar;
    public static SgemmBlocking Blocking => SgemmBlocking.Scalar;

    // Zeroed by a plain loop, not by the runtime's stack zeroing or Span.Clear (which use vector stores):
    // the scalar set runs no 256- or 512-bit instruction (ScalarKernelSetTests).
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        var acc = stackalloc float[Rows * Cols];
        for (int i = 0; i < Rows * Cols; i++) acc[i] = 0f;
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < Rows; i++)
            {
                var ai = a[i];
                for (int j = 0; j < Cols; j++)
                    acc[i * Cols + j] += ai * b[j];
            }
            a += Rows;
            b += Cols;
        }
        for (int i = 0; i < Rows; i++)
        {
            var row = c + i * ldc;
            for (int j = 0; j < Cols; j++)
                row[j] = beta == 0 ? alpha * acc[i * Cols + j] : MathF.FusedMultiplyAdd(row[j], beta, alpha * acc[i * Cols + j]);
        }
    }
}
