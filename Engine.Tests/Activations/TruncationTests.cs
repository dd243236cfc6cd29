using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Streams;
using static GbaEngine.Tests.Activations.TestFiles;

namespace GbaEngine.Tests.Activations;

/// <summary>
/// A data file truncated while a run reads it: reading its mapping past the new end would raise SIGBUS,
/// which .NET reports as a fatal AccessViolationException no handler can catch (the issue: "Fatal error.
/// System.AccessViolationException" and a stack trace). The loader re-checks sizes at shard boundaries,
/// window loads and checkpoints, and buffered reads turn any short read into an error naming the file.
/// </summary>
public class TruncationTests
{
    const int Dim = 6, Rows = 400;

    static string Shard(TempDir dir, string name, int seed) =>
        dir.File(name, Npy("<f4", [Rows, Dim], Encode(Values(Rows * Dim, ActivationDType.F32, seed), ActivationDType.F32)));

    /// <summary>Truncates as another program would (the loader's own handle stays open).</summary>
    static void Truncate(string path, long length)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        f.SetLength(length);
    }

    [Fact]
    public void AShardTruncatedBeforeTheStreamReachesItIsAnErrorNamingIt()
    {
        using var dir = new TempDir();
        string a = Shard(dir, "a.npy", 1), b = Shard(dir, "b.npy", 2);
        using var data = ActivationDataset.Open([a, b], new LoaderOptions { EvalRows = 0 });
        using var stream = data.OpenStream(1, options: new StreamOptions { Shuffle = false });
        var batch = new float[300 * Dim];
        stream.NextBatch(batch, 100);
        Truncate(b, 300);
        stream.NextBatch(batch, 100);                                   // rows 100..200: still in a.npy
        var e = Assert.Throws<ActivationFormatException>(() => stream.NextBatch(batch, 300));
        Assert.Equal(b, e.FilePath);
        Assert.StartsWith(b, e.Message);
        Assert.Contains("shrank", e.Message);
        // A checkpoint of this stream would resume into other data: capturing it is refused too.
        Assert.Equal(b, Assert.Throws<ActivationFormatException>(() => stream.CaptureState()).FilePath);
    }

    [Fact]
    public void AShuffledStreamChecksEveryWindowItLoads()
    {
        using var dir = new TempDir();
        string a = Shard(dir, "a.npy", 1);
        using var data = ActivationDataset.Open([a], new LoaderOptions { EvalRows = 0 });
        using var stream = data.OpenStream(1, options: new StreamOptions { ChunkRows = 16, ShuffleBufferRows = 64 });
        var batch = new float[64 * Dim];
        stream.NextBatch(batch, 64);                                    // exactly one window
        Truncate(a, 1000);
        Assert.Equal(a, Assert.Throws<ActivationFormatException>(() => stream.NextBatch(batch, 64)).FilePath);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(5000)]
    [InlineData(9000)]
    public void BufferedReadsTurnAnyTruncationIntoAnErrorNamingTheFile(long keep)
    {
        using var dir = new TempDir();
        string a = Shard(dir, "a.npy", 3);
        using var data = ActivationDataset.Open([a], new LoaderOptions { EvalRows = 0, Reads = FileReads.Buffered });
        using var stream = data.OpenStream(1, options: new StreamOptions { Shuffle = false });
        var batch = new float[10 * Dim];
        stream.NextBatch(batch, 10);
        var expected = Values(Rows * Dim, ActivationDType.F32, 3);
        Assert.Equal(expected.AsSpan(0, 10 * Dim).ToArray(), batch);   // buffered reads read the same values
        Truncate(a, keep);
        // Mid-shard, between size checks: the mapped path would fault here; the buffered one reports.
        var e = Assert.Throws<ActivationFormatException>(() => { for (int i = 0; i < 100; i++) stream.NextBatch(batch, 10); });
        Assert.Equal(a, e.FilePath);
    }

    [Fact]
    public void AnIntactDatasetPassesTheCheck()
    {
        using var dir = new TempDir();
        string a = Shard(dir, "a.npy", 1);
        using var data = ActivationDataset.Open([a]);
        data.EnsureIntact();
        File.AppendAllText(a, "grown");                                 // growing is harmless: the mapping keeps its length
        data.EnsureIntact();
    }
}
