// A minimal P/Invoke shim over OpenBLAS's cblas_sgemm, for side-by-side comparison only (the Engine
// itself has no native dependency). Debian's libopenblas0(-pthread) installs libopenblas.so.0.
// OpenBLAS picks its kernels from CPUID when the library loads and misdetects this virtual Xeon as
// "Prescott" (about 5x slower), so OPENBLAS_CORETYPE=SkylakeX must be in the process environment
// before start-up (Environment.SetEnvironmentVariable does not reach the native getenv); the runner
// records CoreName so every table says which kernel OpenBLAS really used.
using System.Reflection;
using System.Runtime.InteropServices;

namespace GbaEngine.Benchmarks.Gemm;

internal static unsafe partial class OpenBlas
{
    const string Library = "openblas";
    const int RowMajor = 101, NoTrans = 111, Trans = 112;

    static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
        "libopenblas.so.0",
    ];

    static readonly Lazy<string?> LoadedFrom = new(Load);

    static OpenBlas() => NativeLibrary.SetDllImportResolver(typeof(OpenBlas).Assembly, Resolve);

    static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Library) return IntPtr.Zero;
        foreach (var candidate in Candidates)
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
        return IntPtr.Zero;
    }

    static string? Load()
    {
        foreach (var candidate in Candidates)
            if (NativeLibrary.TryLoad(candidate, out _)) return candidate;
        return null;
    }

    /// <summary>Path of the loaded library, or null when OpenBLAS is not installed.</summary>
    public static string? Path => LoadedFrom.Value;

    public static bool Available => Path is not null;

    public static string CoreName => Marshal.PtrToStringAnsi(openblas_get_corename()) ?? "?";

    public static string Config => Marshal.PtrToStringAnsi(openblas_get_config()) ?? "?";

    public static void SetThreads(int threads) => openblas_set_num_threads(threads);

    /// <summary>C[m x n] := alpha op(A) op(B) + beta C, row-major (same convention as SgemmContext).</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha, float* a, int lda,
        float* b, int ldb, float beta, float* c, int ldc) =>
        cblas_sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    [LibraryImport(Library)]
    private static partial void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library)]
    private static partial void openblas_set_num_threads(int threads);

    [LibraryImport(Library)]
    private static partial IntPtr openblas_get_corename();

    [LibraryImport(Library)]
    private static partial IntPtr openblas_get_config();
}
