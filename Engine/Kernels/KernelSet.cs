using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace GbaEngine.Kernels;

/// <summary>Which instruction-set family the SIMD kernels use.</summary>
public enum KernelSet
{
    /// <summary>Plain scalar C#: the reference twin of every kernel.</summary>
    Scalar = 0,
    /// <summary>256-bit vectors with FMA (AVX2).</summary>
    Avx2 = 1,
    /// <summary>512-bit vectors (AVX-512F).</summary>
    Avx512 = 2,
}

/// <summary>
/// Picks the kernel set once at start-up from CPU features. The environment variable
/// <c>GBA_KERNELS</c> (scalar | avx2 | avx512) forces one, so the whole test suite can be re-run
/// per kernel set; asking for a set the CPU lacks is an error rather than a silent fallback.
/// </summary>
public static class KernelSelector
{
    /// <summary>The environment variable that forces a kernel set (scalar | avx2 | avx512 | auto).</summary>
    public const string EnvironmentVariable = "GBA_KERNELS";

    static KernelSet? _override;

    /// <summary>The best set this CPU supports.</summary>
    public static KernelSet Best { get; } = DetectBest();

    /// <summary>The set in use: the override if any, else <see cref="Best"/>.</summary>
    public static KernelSet Current => _override ?? FromEnvironment ?? Best;

    static readonly KernelSet? FromEnvironment = ParseEnvironment();

    /// <summary>Forces a kernel set for this process (tests, benchmarks, the --kernels option).</summary>
    public static void Force(KernelSet? set)
    {
        if (set is { } s && !IsSupported(s))
            throw new PlatformNotSupportedException($"Kernel set {s} is not supported by this CPU (best available: {Best}).");
        _override = set;
    }

    /// <summary>Whether this CPU (and runtime) can run <paramref name="set"/>.</summary>
    public static bool IsSupported(KernelSet set) => set switch
    {
        KernelSet.Scalar => true,
        KernelSet.Avx2 => Vector256.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported,
        KernelSet.Avx512 => Vector512.IsHardwareAccelerated && Avx512F.IsSupported,
        _ => false,
    };

    /// <summary>All sets this CPU can run, scalar first.</summary>
    public static IReadOnlyList<KernelSet> Supported { get; } =
        Enum.GetValues<KernelSet>().Where(IsSupported).ToArray();

    /// <summary>The set named scalar, avx2 or avx512 (and a few aliases); anything else is an <see cref="ArgumentException"/>.</summary>
    public static KernelSet Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "scalar" or "reference" => KernelSet.Scalar,
        "avx2" or "vector256" => KernelSet.Avx2,
        "avx512" or "avx-512" or "vector512" => KernelSet.Avx512,
        _ => throw new ArgumentException($"Unknown kernel set '{name}': expected scalar, avx2 or avx512."),
    };

    static KernelSet DetectBest() =>
        IsSupported(KernelSet.Avx512) ? KernelSet.Avx512 :
        IsSupported(KernelSet.Avx2) ? KernelSet.Avx2 : KernelSet.Scalar;

    static KernelSet? ParseEnvironment()
    {
        var v = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrWhiteSpace(v) || v.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return null;
        var set = Parse(v);
        if (!IsSupported(set))
            throw new PlatformNotSupportedException($"{EnvironmentVariable}={v}: this CPU does not support {set} (best available: {DetectBest()}).");
        return set;
    }
}
