using System.Buffers.Binary;
using GbaEngine.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Tests.Activations;

/// <summary>
/// The real files in shared/data: known shapes, and rows compared against values decoded here from
/// the raw bytes with nothing but the NEP 1 layout (header length at offset 8, little-endian data).
/// </summary>
public class RealDataTests
{
    static float[] DecodeRowIndependently(string path, long row, int dim, int itemSize)
    {
        var bytes = File.ReadAllBytes(path);
        int dataStart = 10 + BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        var result = new float[dim];
        for (int c = 0; c < dim; c++)
        {
            var at = bytes.AsSpan((int)(dataStart + (row * dim + c) * itemSize));
            result[c] = itemSize == 2 ? (float)BinaryPrimitives.ReadHalfLittleEndian(at) : BinaryPrimitives.ReadSingleLittleEndian(at);
        }
        return result;
    }

    [Theory]
    [InlineData("use-lite-moby-resid1-40k.f16.npy", 40000L, 512, ActivationDType.F16)]
    [InlineData("glove-6b-100d-top50k.f32.npy", 50000L, 100, ActivationDType.F32)]
    public void Shapes_dtypes_and_spot_rows_match_an_independent_decode(string file, long rows, int dim, ActivationDType dtype)
    {
        var path = TestFiles.SharedData(file);
        using var ds = ActivationDataset.Open(path);
        var shard = Assert.Single(ds.Shards);
        Assert.Equal((rows, dim, dtype, ShardFormat.Npy), (shard.Rows, shard.Dim, shard.DType, shard.Format));
        Assert.Equal([rows, dim], shard.Shape);
        var got = new float[dim];
        foreach (long row in new[] { 0L, 1L, 12345L, rows / 2 + 7, rows - 1 })
        {
            ds.ReadRows(row, 1, got);
            TestFiles.AssertBitsEqual(DecodeRowIndependently(path, row, dim, dtype.ByteSize()), got);
        }
    }

    [Fact]
    public void Use_lite_stream_delivers_finite_rows_with_the_documented_norm()
    {
        using var ds = ActivationDataset.Open(TestFiles.SharedData("use-lite-moby-resid1-40k.f16.npy"));
        using var stream = ds.OpenStream(seed: 7);
        var batch = new float[1024 * 512];
        stream.NextBatch(batch, 1024);
        double total = 0;
        for (int r = 0; r < 1024; r++)
        {
            double s = 0;
            foreach (var x in batch.AsSpan(r * 512, 512)) s += (double)x * x;
            total += Math.Sqrt(s);
        }
        Assert.InRange(total / 1024, 40, 70); // gba inspect: mean token norm 53.06
        Assert.Equal(1024, stream.Position);
    }
}
