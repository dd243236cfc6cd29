namespace GbaEngine.Kernels.Elementwise;

/// <summary>
/// Rescales a row to unit Euclidean norm in place (the decoder's renormalisation: the theory trains on
/// the sphere); a zero row stays zero. n² = Σ x² on <see cref="SumDriver"/> with Dot's operator, so it
/// is bitwise <c>Blas1.Dot(x, x, set)</c> while reading x once; then x *= 1/sqrt(n²) as
/// <c>Blas1.Scale</c>. <see cref="RowNormReference"/> is the scalar twin (double sum): equal within rounding.
/// </summary>
internal static class RowNorm
{
    public static void Normalize(Span<float> x, KernelSet set)
    {
        float n2 = SumDriver.Sum<DotOperator>(x, set);
        if (n2 > 0) ElementwiseDriver.Map<ScaleOperator, float>(1f / MathF.Sqrt(n2), x, x, set);
    }
}

/// <summary>Scalar twin of <see cref="RowNorm"/>.</summary>
internal static class RowNormReference
{
    public static void Normalize(Span<float> x)
    {
        double n2 = 0;
        foreach (float v in x) n2 += (double)v * v;
        if (n2 <= 0) return;
        float inv = (float)(1.0 / Math.Sqrt(n2));
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }
}
