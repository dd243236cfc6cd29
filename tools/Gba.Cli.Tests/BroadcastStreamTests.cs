using GbaEngine.Cli.Sweeps;
using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Tests;

/// <summary>One loader pass for several trainers: every consumer sees the source's exact sequence, each row read once.</summary>
public class BroadcastStreamTests
{
    [Theory]
    [InlineData(1, 64)]
    [InlineData(3, 64)]
    [InlineData(4, 200)]
    public void ConcurrentConsumersWithDifferentRequestSizesEachSeeTheWholeSequence(int consumers, int capacity)
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 20, Dim: 5, Sparsity: 2), 3);
        const int total = 3000;
        var expected = new float[total * 5];
        model.OpenStream(1).NextBatch(expected, total);

        using var source = model.OpenStream(1);
        var pass = new BroadcastStream(source, consumers, capacity);
        var seen = new float[consumers][];
        var threads = Enumerable.Range(0, consumers).Select(c => new Thread(() =>
        {
            var rng = new Random(c);
            var got = new List<float>();
            var stream = pass.Consumers[c];
            while (got.Count < total * 5)
            {
                int rows = Math.Min(rng.Next(1, capacity / 2 + 1), total - got.Count / 5);
                var buf = new float[rows * 5];
                stream.NextBatch(buf, rows);
                got.AddRange(buf);
                if (rng.Next(4) == 0) Thread.Yield();
            }
            Assert.Equal(total, stream.Position);
            seen[c] = got.ToArray();
            stream.Dispose();
        })).ToList();
        threads.ForEach(t => t.Start());
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a consumer is stuck"));
        for (int c = 0; c < consumers; c++) Assert.Equal(expected, seen[c]);
        Assert.Equal(total, pass.RowsRead);   // read once, not once per consumer
        Assert.Equal(total, source.Position);
    }

    [Fact]
    public void ADisposedConsumerNoLongerHoldsTheOthersBack()
    {
        var model = new SyntheticModel(new SyntheticSpec(Features: 20, Dim: 4, Sparsity: 2), 1);
        using var source = model.OpenStream(1);
        var pass = new BroadcastStream(source, 2, 16);
        var buf = new float[10 * 4];
        pass.Consumers[0].NextBatch(buf, 10);
        pass.Consumers[0].Dispose();
        for (int i = 0; i < 20; i++) pass.Consumers[1].NextBatch(buf, 10);   // 200 rows through a 16-row ring
        Assert.Equal(200, pass.Consumers[1].Position);
        Assert.Throws<ArgumentException>(() => pass.Consumers[1].NextBatch(new float[17 * 4], 17));
        Assert.Throws<ObjectDisposedException>(() => pass.Consumers[0].NextBatch(buf, 1));
    }
}
