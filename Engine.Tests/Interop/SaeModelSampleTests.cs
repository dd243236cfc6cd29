using GbaEngine.Inference;
using GbaEngine.Interop;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// The first sample of docs/library.md, "Use a trained SAE", compiled here verbatim and run on an exported SAE;
/// a second test fails when that code block and this file drift apart.
/// </summary>
[Trait("Category", "Kernels")]
public class SaeModelSampleTests
{
    // directory: a `gba train --out` run (or its sae/), an SAELens or a sparsify directory; rows: [count × d_in]
    static float[] FeaturesAndReconstruction(string directory, float[] rows, int count)
    {
        var sae = SaeModel.Load(directory);                       // a bad directory is one error naming the file
        SparseFeatures f = sae.Encode(rows.AsSpan(0, sae.Dim));   // one token: ascending feature indices, values
        Console.WriteLine($"{f.Count} active: {string.Join(", ", f.Indices.Zip(f.Values, (i, v) => $"#{i}={v:F2}"))}");
        float[] xhat = sae.Decode(f);                              // back to the activation space

        SparseFeatureBatch batch = sae.EncodeBatch(rows, count, threads: 4);   // the encoder runs on the SGEMM
        Console.WriteLine($"L0 {batch.L0:F1}; token 1 fires {batch.Indices(1).Length} features");
        var recon = new float[count * sae.Dim];
        sae.ReconstructBatch(rows, count, recon, threads: 4);
        return recon;
    }

    [Fact]
    public void TheSampleRunsOnAnExportedSae()
    {
        var sae = EngineRoundTripTests.RandomSae(true, SaeActivation.JumpRelu, SparsityMode.Threshold, InputNormalization.DatasetScale, 3);
        var rows = EngineRoundTripTests.RawTokens(40, sae.Dim, 4);
        var dir = Path.Combine(Path.GetTempPath(), "gba-guide-" + Guid.NewGuid().ToString("N"));
        try
        {
            SaeLensExport.Write(dir, sae);
            var recon = FeaturesAndReconstruction(dir, rows, 40);
            var expected = new float[recon.Length];
            SaeModel.FromAutoencoder(sae).ReconstructBatch(rows, 40, expected);
            Assert.Equal(expected, recon);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void TheGuideShowsTheCodeThisFileCompiles() => DocSamples.AssertBlockIsInThisFile("docs/library.md", "## Use a trained SAE", skipComments: false);
}
