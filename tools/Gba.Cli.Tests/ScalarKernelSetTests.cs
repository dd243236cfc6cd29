using System.Runtime.Intrinsics;
using System.Text.RegularExpressions;
using GbaEngine.Kernels;


namespace GbaEngine.Cli.Tests;

/// <summary>
/// GBA_KERNELS=scalar must mean scalar code, in the SGEMM too (issue 12: its driver and packing tested
/// CPU features directly, so the "scalar" CI pass still ran AVX transposes, Vector256 FMA and AVX-512
/// stores). A child gba process trains with the scalar set under full JIT optimisation and has the JIT
/// print the machine code of every SGEMM method it compiled; the code that touches matrix data in the
/// scalar instantiation (driver loops, packing, micro-kernel) must hold no ymm or zmm register, i.e.
/// no 256- or 512-bit instruction. (The dispatcher, SgemmContext.Run, is left out: the JIT copies its
/// 80-byte problem struct with wide moves of its own choosing, which no kernel set controls.)
/// The same listing for the best set is the control: it must show them.
/// </summary>
[Trait("Category", "Kernels")]
public class ScalarKernelSetTests
{
    static Dictionary<string, string> Listings(string kernels, string method)
    {
        var file = Path.Combine(Path.GetTempPath(), $"gba-jit-{Guid.NewGuid():N}.txt");
        try
        {
            var (code, _, err) = CliHarness.Exec(
                ["train", "--features", "32", "--dim", "24", "--sparsity", "2", "--d-sae", "96", "--batch", "64", "--steps", "3",
                 "--init-tokens", "256", "--eval-tokens", "256", "--threads", "2", "--method", method, "--quiet"],
                new Dictionary<string, string>
                {
                    ["GBA_KERNELS"] = kernels, ["DOTNET_TieredCompilation"] = "0", ["DOTNET_JitStdOutFile"] = file,
                    ["DOTNET_JitDisasm"] = "Run MergeBeta Store PackA PackB PackRowsInterleaved PackColumnsContiguous",
                });
            Assert.True(code == 0, err);
            // One listing per method: "; Assembly listing for method NAME (tier)" up to the next one.
            var text = File.ReadAllText(file);
            return Regex.Split(text, "(?=^; Assembly listing for method )", RegexOptions.Multiline)
                .Where(s => s.StartsWith("; Assembly listing", StringComparison.Ordinal))
                .GroupBy(s => s[..s.IndexOf('\n')]).ToDictionary(g => g.Key, g => string.Concat(g));
        }
        finally { File.Delete(file); }
    }

    static readonly Regex Wide = new(@"\b[yz]mm\d+\b");

    [Theory]
    [InlineData("gba")]   // the fused encoder: packing and the driver in scratch mode
    [InlineData("mp")]    // matching pursuit: products stored to C
    public void ScalarSgemmRunsNoVectorInstruction(string method)
    {
        var sgemm = Listings("scalar", method).Where(l => l.Key.Contains("Kernels.Gemm", StringComparison.Ordinal)).ToList();
        // Packing is listed whatever its form (a non-generic packer would serve every set from one body).
        var scalar = sgemm.Where(l => l.Key.Contains("SgemmPacking", StringComparison.Ordinal)
            || l.Key.Contains("SgemmKernelScalar_4x8", StringComparison.Ordinal) && !l.Key.Contains("SgemmContext", StringComparison.Ordinal)).ToList();
        Assert.Contains(scalar, l => l.Key.Contains("SgemmDriver", StringComparison.Ordinal));
        Assert.Contains(scalar, l => l.Key.Contains("SgemmKernelScalar_4x8:Run", StringComparison.Ordinal));
        Assert.Contains(scalar, l => l.Key.Contains("PackRowsInterleaved", StringComparison.Ordinal) || l.Key.Contains("PackColumnsContiguous", StringComparison.Ordinal));
        foreach (var (name, code) in scalar)
            Assert.False(Wide.IsMatch(code), $"{name} holds a 256/512-bit instruction:\n{string.Join("\n", code.Split('\n').Where(s => Wide.IsMatch(s)).Take(5))}");
        // No other instantiation ran: the scalar set never reached a SIMD micro-kernel.
        Assert.DoesNotContain(sgemm, l => l.Key.Contains("Avx2_6x16", StringComparison.Ordinal) || l.Key.Contains("Avx512_14x32", StringComparison.Ordinal));
    }

    [Fact]
    public void TheBestSetsSgemmListingShowsItsVectors()
    {
        if (KernelSelector.Best == KernelSet.Scalar || !Vector256.IsHardwareAccelerated) return;   // nothing wider on this CPU
        var kernel = KernelSelector.Best == KernelSet.Avx512 ? "SgemmKernelAvx512_14x32:Run" : "SgemmKernelAvx2_6x16:Run";
        var listing = Listings(KernelSelector.Best.ToString().ToLowerInvariant(), "gba").Single(l => l.Key.Contains(kernel, StringComparison.Ordinal));
        Assert.Matches(Wide, listing.Value);
    }

    /// <summary>
    /// The kernel set is an option of the trainer and its model, not a process-wide switch: `--kernels scalar`
    /// in this process (whose default set is the best) trains bit for bit what a process started with
    /// GBA_KERNELS=scalar trains, and leaves the process default alone.
    /// </summary>
    [Fact]
    public void KernelsOptionTrainsLikeTheEnvironmentDefaultAndChangesNoGlobal()
    {
        string[] args = ["train", "--features", "32", "--dim", "24", "--sparsity", "2", "--d-sae", "96", "--batch", "64", "--steps", "20",
            "--init-tokens", "256", "--eval-tokens", "512", "--threads", "2", "--quiet", "--json"];
        var before = KernelSelector.Current;
        var (code, stdout, err) = CliHarness.Run([.. args, "--kernels", "scalar"]);
        Assert.True(code == 0, err);
        Assert.Equal(before, KernelSelector.Current);
        var (childCode, childOut, childErr) = CliHarness.Exec(args, new Dictionary<string, string> { ["GBA_KERNELS"] = "scalar" });
        Assert.True(childCode == 0, childErr);
        static string Untimed(string json) => Regex.Replace(CliHarness.LastLine(json), "\"(seconds|tokens_per_second)\":[^,}]*,?", "");
        Assert.Equal(Untimed(childOut), Untimed(stdout));
        Assert.Contains("\"kernels\":\"scalar\"", stdout);
    }
}
