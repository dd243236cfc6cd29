using GbaEngine.Inference;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// One <see cref="SaeModel"/> shared by many threads, each encoding its own inputs at the same time,
/// gives bit for bit what the same calls give one after another (no shared mutable scratch), and a
/// batch split over worker threads equals the single-threaded batch.
/// </summary>
[Trait("Category", "Kernels")]
public class ConcurrentInferenceTests
{
    static void AssertSame(SparseFeatureBatch expected, SparseFeatureBatch actual)
    {
        Assert.Equal(expected.RowStarts.ToArray(), actual.RowStarts.ToArray());
        Assert.Equal(expected.AllIndices.ToArray(), actual.AllIndices.ToArray());
        Assert.Equal(expected.AllValues.ToArray(), actual.AllValues.ToArray());
    }

    [Theory]
    [InlineData(SparsityMode.Threshold)]
    [InlineData(SparsityMode.TopK)]
    public void ManyThreadsEncodingAtOnceGetTheSequentialResults(SparsityMode sparsity)
    {
        const int d = 64, m = 512, rows = 97, callers = 12, rounds = 4;
        var model = SaeModel.FromAutoencoder(EngineRoundTripTests.RandomSae(false, SaeActivation.JumpRelu, sparsity, InputNormalization.DatasetScale, 5, d, m, k: 8));
        var inputs = Enumerable.Range(0, callers).Select(c => EngineRoundTripTests.RawTokens(rows, d, 100 + c)).ToArray();

        var expectedBatch = inputs.Select(x => model.EncodeBatch(x, rows)).ToArray();
        var expectedSingle = inputs.Select(x => model.Encode(x.AsSpan(0, d))).ToArray();
        var expectedDecoded = inputs.Select(x => { var o = new float[rows * d]; model.ReconstructBatch(x, rows, o); return o; }).ToArray();

        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        using var start = new Barrier(callers);
        var threads = Enumerable.Range(0, callers).Select(c => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                var reuse = new SparseFeatureBatch();
                for (int r = 0; r < rounds; r++)
                {
                    // Alternate the entry points so single-vector, batch and multi-threaded batch calls overlap.
                    model.EncodeBatch(inputs[c], rows, reuse, threads: 1 + (c + r) % 3);
                    AssertSame(expectedBatch[c], reuse);
                    var single = model.Encode(inputs[c].AsSpan(0, d));
                    Assert.Equal(expectedSingle[c].Indices, single.Indices);
                    Assert.Equal(expectedSingle[c].Values, single.Values);
                    var decoded = new float[rows * d];
                    model.ReconstructBatch(inputs[c], rows, decoded, threads: 1 + r % 2);
                    Assert.Equal(expectedDecoded[c], decoded);
                }
            }
            catch (Exception e) { failures.Enqueue(e); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Empty(failures);
    }

    [Fact]
    public void BatchSplitOverThreadsEqualsOneThread()
    {
        const int d = 24, m = 3000, rows = 700;    // M = 3000: SGEMM chunks of 256 rows, so parts cut chunks differently
        var model = SaeModel.FromAutoencoder(EngineRoundTripTests.RandomSae(true, SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.PerToken, 8, d, m));
        var x = EngineRoundTripTests.RawTokens(rows, d, 9);
        var one = model.EncodeBatch(x, rows);
        Assert.InRange(one.L0, 1, m - 1);
        foreach (int threads in new[] { 2, 3, 7 })
            AssertSame(one, model.EncodeBatch(x, rows, threads));
    }
}
