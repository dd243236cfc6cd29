using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Activations;
using static GbaEngine.Tests.Activations.TestFiles;
using GbaEngine.Formats;
using GbaEngine.Streams;

namespace GbaEngine.Tests.Activations;

/// <summary>
/// Stream semantics over a three-shard, three-format dataset whose rows carry their own global index
/// (column 0 = index % 256, column 1 = index / 256: exact even in bf16): every row once per epoch,
/// seed-determined order mixing shards, exact resume at any position, the train/eval split.
/// </summary>
public sealed class StreamTests : IDisposable
{
    const int Dim = 5;
    static readonly int[] ShardRows = [300, 457, 243];
    const int N = 1000;
    readonly TempDir _dir = new();
    readonly string[] _paths;

    public StreamTests()
    {
        var rows = Enumerable.Range(0, N).Select(Row).ToArray();
        float[] Slice(int from, int count) => rows.Skip(from).Take(count).SelectMany(r => r).ToArray();
        _paths =
        [
            _dir.File("0.npy", Npy("<f2", [ShardRows[0], Dim], Encode(Slice(0, 300), ActivationDType.F16))),
            _dir.File("1.safetensors", Safetensors([new("acts", "BF16", [1, ShardRows[1], Dim], Encode(Slice(300, 457), ActivationDType.BF16))])),
            _dir.File("2.bin", Encode(Slice(757, 243), ActivationDType.F32)),
        ];
    }

    public void Dispose() => _dir.Dispose();

    static float[] Row(int i) => [i % 256, i / 256, -1, 0.5f, i % 3];

    ActivationDataset Open(LoaderOptions? o = null) =>
        ActivationDataset.Open(_paths, (o ?? new LoaderOptions()) with { RawDType = ActivationDType.F32, RawDim = Dim });

    static readonly StreamOptions Small = new() { ChunkRows = 16, ShuffleBufferRows = 64 };

    /// <summary>Reads <paramref name="count"/> rows in batches of varying size and decodes their indices.</summary>
    static int[] Take(ActivationStream s, int count, int seed = 0)
    {
        var rng = new Random(seed);
        var ids = new int[count];
        var batch = new float[97 * Dim];
        for (int done = 0; done < count;)
        {
            int n = Math.Min(count - done, 1 + rng.Next(97));
            s.NextBatch(batch, n);
            for (int r = 0; r < n; r++)
            {
                var row = batch.AsSpan(r * Dim, Dim);
                ids[done + r] = (int)row[0] + 256 * (int)row[1];
                Assert.Equal(Row(ids[done + r]), row.ToArray());
            }
            done += n;
        }
        return ids;
    }

    [Fact]
    public void Shuffled_stream_delivers_every_row_once_per_epoch_in_a_seeded_order_that_mixes_shards()
    {
        using var ds = Open();
        using var s = ds.OpenStream(seed: 11, options: Small);
        var ids = Take(s, 3 * N);
        for (int e = 0; e < 3; e++)
            Assert.Equal(Enumerable.Range(0, N), ids.Skip(e * N).Take(N).Order());
        Assert.Equal(3 * N, s.Position);
        Assert.Equal(3, s.Epoch);
        Assert.NotEqual(ids.Take(N), ids.Skip(N).Take(N)); // each epoch reshuffles
        Assert.NotEqual(Enumerable.Range(0, N), ids.Take(N));

        using (var same = ds.OpenStream(seed: 11, options: Small))
            Assert.Equal(ids, Take(same, 3 * N, seed: 5)); // batch sizes do not matter
        using (var other = ds.OpenStream(seed: 12, options: Small))
            Assert.NotEqual(ids.Take(N), Take(other, N));

        // A 16-chunk buffer draws chunks from every shard and interleaves their rows.
        int Shard(int id) => id < 300 ? 0 : id < 757 ? 1 : 2;
        using var wide = ds.OpenStream(seed: 11, options: Small with { ShuffleBufferRows = 256 });
        var first = Take(wide, 256).Select(Shard).ToArray();
        Assert.Equal(3, first.Distinct().Count());
        Assert.True(first.Zip(first.Skip(1)).Count(p => p.First != p.Second) > 64, "rows of one window are not interleaved");
    }

    [Fact]
    public void Unshuffled_stream_is_file_order_and_loops()
    {
        using var ds = Open();
        using var s = ds.OpenStream(0, 0, new StreamOptions { Shuffle = false });
        var ids = Take(s, 2 * N + 10);
        Assert.Equal(Enumerable.Range(0, N).Concat(Enumerable.Range(0, N)).Concat(Enumerable.Range(0, 10)), ids);
        using var resumed = ds.OpenStream(0, N + 555, new StreamOptions { Shuffle = false });
        Assert.Equal(ids.Skip(N + 555), Take(resumed, N - 545));
    }

    static Arbitrary<(ulong Seed, int Position, int Chunk, int Buffer)> ResumeCases() =>
        (from seed in Gen.Choose(0, int.MaxValue)
         from position in Gen.Choose(0, 3 * N)
         from chunk in Gen.Elements(1, 7, 16, 100, 1000, 4096)
         from windows in Gen.Choose(1, 12)
         select ((ulong)seed, position, chunk, chunk * windows)).ToArbitrary();

    [Fact]
    public void Resume_at_any_position_continues_exactly()
    {
        using var ds = Open();
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(ResumeCases(), c =>
        {
            var options = new StreamOptions { ChunkRows = c.Chunk, ShuffleBufferRows = c.Buffer };
            using var full = ds.OpenStream(c.Seed, 0, options);
            var reference = Take(full, c.Position + 700, seed: c.Position);
            using var resumed = ds.OpenStream(c.Seed, c.Position, options);
            Assert.Equal(c.Position, resumed.Position);
            Assert.Equal(reference.Skip(c.Position), Take(resumed, 700, seed: c.Position + 1));
        }));
    }

    [Fact]
    public void Skipping_non_finite_rows_keeps_every_epoch_complete_and_resume_exact()
    {
        using var dir = new TempDir();
        var values = Enumerable.Range(0, 200).SelectMany(Row).ToArray();
        foreach (int bad in new[] { 0, 17, 18, 150, 199 }) values[bad * Dim + 4] = float.NaN;
        var path = dir.File("nan.npy", Npy("<f4", [200, Dim], Encode(values, ActivationDType.F32)));
        using var ds = ActivationDataset.Open(path, new LoaderOptions { NonFinite = NonFiniteRows.Skip });
        var options = new StreamOptions { ChunkRows = 8, ShuffleBufferRows = 32 };
        using var s = ds.OpenStream(4, 0, options);
        var ids = Take(s, 2 * 195);
        var expected = Enumerable.Range(0, 200).Except([0, 17, 18, 150, 199]);
        Assert.Equal(expected, ids.Take(195).Order());
        Assert.Equal(expected, ids.Skip(195).Order());
        Assert.Equal(10, s.SkippedRows);
        Assert.Equal(2 * 195 + s.SkippedRows, s.Position);

        using var again = ds.OpenStream(4, 0, options);
        Take(again, 77);
        using var resumed = ds.OpenStream(4, again.Position, options);
        Assert.Equal(ids.Skip(77).Take(150), Take(resumed, 150));
    }

    [Fact]
    public void Row_limit_and_eval_split_are_disjoint_and_deterministic()
    {
        using var ds = Open(new LoaderOptions { RowLimit = 900, EvalFraction = 0.1 });
        Assert.Equal((N, 900L, 810L, 90L), (ds.TokenCount, ds.UsedRows, ds.TrainRows, ds.EvalRows));
        using var train = ds.OpenStream(9, 0, Small);
        Assert.Equal(Enumerable.Range(0, 810), Take(train, 810).Order());
        using var eval = ds.OpenEvalStream();
        Assert.Equal(Enumerable.Range(810, 90).Concat(Enumerable.Range(810, 5)), Take(eval, 95));

        using var fixedCount = Open(new LoaderOptions { EvalRows = 1000 });
        Assert.Equal(0, fixedCount.TrainRows);
        Assert.Throws<InvalidOperationException>(() => fixedCount.OpenStream(1));
        using var noEval = Open();
        Assert.Throws<InvalidOperationException>(() => noEval.OpenEvalStream());
    }

    [Fact]
    public void Bad_arguments_are_argument_errors()
    {
        using var ds = Open();
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.OpenStream(1, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.OpenStream(1, 0, new StreamOptions { ChunkRows = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.OpenStream(1, 0, new StreamOptions { ChunkRows = 32, ShuffleBufferRows = 8 }));
        using (var oneChunk = ds.OpenStream(1, 0, new StreamOptions { ChunkRows = 100_000 }))
            Assert.Equal(Enumerable.Range(0, N), Take(oneChunk, N).Order());
        using var s = ds.OpenStream(1);
        Assert.Throws<ArgumentException>(() => s.NextBatch(new float[9], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => ActivationDataset.Open(_paths, new LoaderOptions { EvalFraction = 1 }));
        Assert.Throws<ArgumentException>(() => ActivationDataset.Open(_paths, new LoaderOptions { RawDim = 4 }));
        Assert.Contains("shuffled (seed 1", s.Describe());
    }
}
