using System.Text.Json;
using GbaEngine.Activations;
using static GbaEngine.Tests.Activations.TestFiles;
using GbaEngine.Formats;

namespace GbaEngine.Tests.Activations;

/// <summary>The inspector against a naive two-pass computation and the real data.</summary>
public class InspectorTests
{
    const int Dim = 9;

    [Fact]
    public void Statistics_match_a_naive_two_pass_computation_across_shards()
    {
        using var dir = new TempDir();
        var a = Values(50 * Dim, ActivationDType.F32, 1);
        var b = Values(31 * Dim, ActivationDType.F32, 2);
        for (int r = 0; r < 50; r++) a[r * Dim + 4] *= 16; // dim 4: variance x256
        for (int i = 0; i < a.Length; i++) a[i] = (float)(Half)a[i]; // exact in the f16 file
        for (int r = 0; r < 31; r++) b[r * Dim + 4] = a[r * Dim + 4] + 3;
        b[5 * Dim + 1] = float.NaN;
        b[5 * Dim + 2] = float.PositiveInfinity;
        b[9 * Dim] = float.NaN;
        var pa = dir.File("a.npy", Npy("<f2", [50, Dim], Encode(a, ActivationDType.F16)));
        var pb = dir.File("b.safetensors", Safetensors([new("t", "F32", [31, Dim], Encode(b, ActivationDType.F32))]));
        using var ds = ActivationDataset.Open([pa, pb]);
        var report = ActivationInspector.Inspect(ds);
        var total = Assert.IsType<ActivationStats>(report.Total);

        var rows = a.Concat(b).Chunk(Dim).Where(r => r.All(float.IsFinite)).ToArray();
        Assert.Equal(79, rows.Length);
        Assert.Equal((81L, 2L, 3L), (total.Rows, total.NonFiniteRows, total.NonFiniteValues));
        Assert.Equal((50L, 0L), (report.Shards[0].Stats.Rows, report.Shards[0].Stats.NonFiniteRows));
        var norms = rows.Select(r => Math.Sqrt(r.Sum(x => (double)x * x))).ToArray();
        Assert.Equal(norms.Average(), total.MeanNorm, 1e-9);
        Assert.Equal(norms.Max(), total.MaxNorm, 1e-9);
        for (int j = 0; j < Dim; j++)
        {
            double mean = rows.Average(r => (double)r[j]);
            double variance = rows.Average(r => ((double)r[j] - mean) * ((double)r[j] - mean));
            Assert.Equal(mean, total.Mean[j], 1e-9 * (1 + Math.Abs(mean)));
            Assert.Equal(variance, total.Variance[j], 1e-9 * variance);
        }
        Assert.Equal([4], total.OutlierDims.Select(o => o.Index));
        Assert.Equal([4], report.Shards[0].Stats.OutlierDims.Select(o => o.Index));
        Assert.True(total.OutlierDims[0].RatioToMedian > 100);
    }

    [Fact]
    public void Real_use_lite_file_shows_the_documented_norm_and_two_outlier_dims()
    {
        using var ds = ActivationDataset.Open(SharedData("use-lite-moby-resid1-40k.f16.npy"));
        var s = ActivationInspector.Inspect(ds).Total!;
        Assert.Equal((40000L, 512, 0L), (s.Rows, s.Dim, s.NonFiniteRows));
        Assert.InRange(s.MeanNorm, 50, 56);     // gba inspect: mean |x| 53.06
        Assert.Equal(2, s.OutlierDims.Count);   // gba inspect: two dims with variance ~30x the median
        Assert.All(s.OutlierDims, o => Assert.InRange(o.RatioToMedian, 15, 60));
    }
}
