using GbaEngine.Activations;
using static GbaEngine.Tests.Activations.TestFiles;
using GbaEngine.Formats;

namespace GbaEngine.Tests.Activations;

/// <summary>Files written by the test writers in every format, version and dtype read back exactly.</summary>
public class FormatRoundTripTests
{
    const int Rows = 37, Dim = 19; // odd sizes so no row or file ends on a vector boundary

    static float[] ReadBack(string path, LoaderOptions? options = null)
    {
        using var ds = ActivationDataset.Open(path, options);
        return ReadAll(ds);
    }

    [Theory]
    [InlineData(1, ActivationDType.F32)]
    [InlineData(1, ActivationDType.F16)]
    [InlineData(1, ActivationDType.F64)]
    [InlineData(2, ActivationDType.F32)]
    [InlineData(2, ActivationDType.F16)]
    [InlineData(3, ActivationDType.F64)]
    [InlineData(3, ActivationDType.F16)]
    public void Npy_round_trips(int version, ActivationDType dtype)
    {
        using var dir = new TempDir();
        var values = Values(Rows * Dim, dtype, version * 10 + (int)dtype);
        var path = dir.File("a.npy", Npy(NpyDescr(dtype), [Rows, Dim], Encode(values, dtype), version));
        using var ds = ActivationDataset.Open(path);
        var shard = Assert.Single(ds.Shards);
        Assert.Equal((ShardFormat.Npy, dtype, (long)Rows, Dim, false), (shard.Format, shard.DType, shard.Rows, shard.Dim, shard.FortranOrder));
        Assert.Equal(Rows, ds.TokenCount);
        AssertBitsEqual(values, ReadAll(ds));
    }

    [Theory]
    [InlineData(ActivationDType.F32)]
    [InlineData(ActivationDType.F16)]
    [InlineData(ActivationDType.F64)]
    public void Npy_fortran_order_is_transposed_on_read(ActivationDType dtype)
    {
        using var dir = new TempDir();
        var values = Values(Rows * Dim, dtype, 5);
        var path = dir.File("f.npy", Npy(NpyDescr(dtype), [Rows, Dim], Encode(ColumnMajor(values, Rows, Dim), dtype), fortran: true));
        using var ds = ActivationDataset.Open(path);
        Assert.True(ds.Shards[0].FortranOrder);
        AssertBitsEqual(values, ReadAll(ds));
        // A read starting mid-file exercises the strided gather with a row offset.
        var part = new float[5 * Dim];
        ds.ReadRows(11, 5, part);
        AssertBitsEqual(values.AsSpan(11 * Dim, 5 * Dim), part);
    }

    [Fact]
    public void Npy_3d_is_flattened_to_tokens_and_python2_longs_parse()
    {
        using var dir = new TempDir();
        var values = Values(6 * 5 * Dim, ActivationDType.F32, 9);
        var path = dir.File("b.npy", Npy("<f4", [6, 5, Dim], Encode(values, ActivationDType.F32)));
        using (var ds = ActivationDataset.Open(path))
        {
            Assert.Equal(30, ds.TokenCount);
            AssertBitsEqual(values, ReadAll(ds));
        }
        var longs = dir.File("l.npy", NpyWithHeader($"{{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (30L, {Dim}L)}}", Encode(values, ActivationDType.F32)));
        AssertBitsEqual(values, ReadBack(longs));
    }

    [Theory]
    [InlineData(ActivationDType.F32)]
    [InlineData(ActivationDType.F16)]
    [InlineData(ActivationDType.BF16)]
    [InlineData(ActivationDType.F64)]
    public void Safetensors_2d_and_3d_round_trip(ActivationDType dtype)
    {
        using var dir = new TempDir();
        var values = Values(Rows * Dim, dtype, 20 + (int)dtype);
        var flat = dir.File("a.safetensors", Safetensors([new("acts", SafetensorsDType(dtype), [Rows, Dim], Encode(values, dtype))]));
        using (var ds = ActivationDataset.Open(flat))
        {
            Assert.Equal((ShardFormat.Safetensors, dtype, "acts"), (ds.Shards[0].Format, ds.Shards[0].DType, ds.Shards[0].TensorName));
            AssertBitsEqual(values, ReadAll(ds));
        }
        var values3 = Values(4 * 9 * Dim, dtype, 30 + (int)dtype);
        var batched = dir.File("b.safetensors", Safetensors([new("x", SafetensorsDType(dtype), [4, 9, Dim], Encode(values3, dtype))], metadata: null));
        using (var ds = ActivationDataset.Open(batched))
        {
            Assert.Equal(36, ds.TokenCount);
            Assert.Equal([4L, 9, Dim], ds.Shards[0].Shape);
            AssertBitsEqual(values3, ReadAll(ds));
        }
    }

    [Fact]
    public void Safetensors_multi_tensor_is_read_by_name()
    {
        using var dir = new TempDir();
        var a = Values(3 * Dim, ActivationDType.F32, 1);
        var b = Values(Rows * Dim, ActivationDType.BF16, 2);
        var bias = Values(7, ActivationDType.F32, 3);
        var path = dir.File("m.safetensors", Safetensors([
            new("first", "F32", [3, Dim], Encode(a, ActivationDType.F32)),
            new("ids", "I64", [5], new byte[40]),
            new("resid", "BF16", [Rows, Dim], Encode(b, ActivationDType.BF16)),
            new("bias", "F32", [7], Encode(bias, ActivationDType.F32)),
        ]));
        AssertBitsEqual(b, ReadBack(path, new LoaderOptions { TensorName = "resid" }));
        AssertBitsEqual(a, ReadBack(path, new LoaderOptions { TensorName = "first" }));
    }

    [Theory]
    [InlineData(ActivationDType.F32)]
    [InlineData(ActivationDType.F16)]
    [InlineData(ActivationDType.BF16)]
    public void Raw_round_trips_with_caller_dtype_and_dim(ActivationDType dtype)
    {
        using var dir = new TempDir();
        var values = Values(Rows * Dim, dtype, 40 + (int)dtype);
        var path = dir.File("acts.bin", Encode(values, dtype));
        using var ds = ActivationDataset.Open(path, new LoaderOptions { RawDType = dtype, RawDim = Dim });
        Assert.Equal((ShardFormat.Raw, (long)Rows), (ds.Shards[0].Format, ds.Shards[0].Rows));
        AssertBitsEqual(values, ReadAll(ds));
    }

    [Fact]
    public void Directory_and_glob_of_mixed_shards_read_in_sorted_order()
    {
        using var dir = new TempDir();
        var shards = dir.Sub("shards");
        var v0 = Values(10 * Dim, ActivationDType.F16, 50);
        var v1 = Values(7 * Dim, ActivationDType.BF16, 51);
        var v2 = Values(12 * Dim, ActivationDType.F32, 52);
        var v3 = Values(3 * Dim, ActivationDType.F64, 53);
        File.WriteAllBytes(Path.Combine(shards, "00.npy"), Npy("<f2", [10, Dim], Encode(v0, ActivationDType.F16)));
        File.WriteAllBytes(Path.Combine(shards, "01.safetensors"), Safetensors([new("t", "BF16", [7, Dim], Encode(v1, ActivationDType.BF16))]));
        File.WriteAllBytes(Path.Combine(shards, "02.bin"), Encode(v2, ActivationDType.F32));
        File.WriteAllBytes(Path.Combine(shards, "03.npy"), Npy("<f8", [1, 3, Dim], Encode(v3, ActivationDType.F64), version: 2));
        File.WriteAllBytes(Path.Combine(shards, ".hidden"), [1, 2, 3]);
        var raw = new LoaderOptions { RawDType = ActivationDType.F32, RawDim = Dim };

        using (var ds = ActivationDataset.Open(shards, raw))
        {
            Assert.Equal(["00.npy", "01.safetensors", "02.bin", "03.npy"], ds.Shards.Select(s => Path.GetFileName(s.Path)));
            Assert.Equal(32, ds.TokenCount);
            AssertBitsEqual([.. v0, .. v1, .. v2, .. v3], ReadAll(ds));
            Assert.Equal((ds.Shards[2], 1L), ds.Locate(18));
        }
        using (var ds = ActivationDataset.Open(shards)) // without raw options the directory means .npy and .safetensors
            AssertBitsEqual([.. v0, .. v1, .. v3], ReadAll(ds));
        using (var ds = ActivationDataset.Open([Path.Combine(shards, "*.npy"), Path.Combine(shards, "0?.bin")], raw))
            AssertBitsEqual([.. v0, .. v3, .. v2], ReadAll(ds));
    }
}
