using System.Buffers.Binary;
using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Activations;
using static GbaEngine.Tests.Activations.TestFiles;
using GbaEngine.Formats;
using GbaEngine.Streams;

namespace GbaEngine.Tests.Activations;

/// <summary>
/// Bad input of every kind yields the loader's own exception, naming the file and the problem;
/// never another exception type, a hang, or a silent wrong read.
/// </summary>
public class HostileInputTests
{
    const int Dim = 6;

    static ActivationFormatException Rejects(string path, LoaderOptions? options = null, params string[] mentions)
    {
        var e = Assert.Throws<ActivationFormatException>(() => ActivationDataset.Open(path, options).Dispose());
        Assert.StartsWith(path, e.Message);
        foreach (var m in mentions) Assert.Contains(m, e.Message);
        return e;
    }

    static byte[] ValidNpy(int version) => Npy("<f4", [3, Dim], Encode(Values(3 * Dim, ActivationDType.F32, 1), ActivationDType.F32), version);

    static byte[] ValidSafetensors() => Safetensors([
        new("a", "F16", [2, Dim], Encode(Values(2 * Dim, ActivationDType.F16, 2), ActivationDType.F16)),
        new("b", "BF16", [3, Dim], Encode(Values(3 * Dim, ActivationDType.BF16, 3), ActivationDType.BF16)),
    ]);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Npy_truncated_at_every_byte_is_rejected(int version)
    {
        using var dir = new TempDir();
        var bytes = ValidNpy(version);
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            var path = dir.File($"t{cut}.npy", bytes[..cut]);
            var e = Rejects(path);
            Assert.Matches(cut == 0 ? "empty" : "truncated|ends inside|expected|magic", e.Message);
        }
    }

    [Fact]
    public void Safetensors_truncated_at_every_byte_is_rejected()
    {
        using var dir = new TempDir();
        var bytes = ValidSafetensors();
        for (int cut = 0; cut < bytes.Length; cut++)
            Rejects(dir.File($"t{cut}.safetensors", bytes[..cut]), new LoaderOptions { TensorName = "b" });
    }

    [Fact]
    public void Npy_headers_that_lie_or_use_unsupported_dtypes_are_rejected_by_name()
    {
        using var dir = new TempDir();
        var data = new byte[3 * Dim * 4];
        foreach (var descr in new[] { "|u1", ">f4", "<i2", "<f16", "<c8", "f4" })
            Rejects(dir.File("d.npy", Npy(descr, [3, Dim], data)), null, $"'{descr}'", "<f4");
        Rejects(dir.File("huge.npy", Npy("<f4", [1_000_000_000_000, 512], data)), null, "[1000000000000, 512]", "truncated");
        Rejects(dir.File("over.npy", Npy("<f4", [long.MaxValue, 4], data)), null, "over 2^63");
        Rejects(dir.File("3x.npy", Npy("<f4", [3, Dim + 1], data)), null, "needs 84", "found 72");
        Rejects(dir.File("extra.npy", Npy("<f4", [2, Dim], data)), null, "extra bytes");
        Rejects(dir.File("1d.npy", Npy("<f4", [3 * Dim], data)), null, "1 dimension");
        Rejects(dir.File("4d.npy", Npy("<f4", [1, 1, 3, Dim], data)), null, "4 dimension");
        Rejects(dir.File("d0.npy", Npy("<f4", [3, 0], [])), null, "d = 0");
        Rejects(dir.File("f3.npy", Npy("<f4", [1, 3, Dim], data, fortran: true)), null, "fortran_order");
        Rejects(dir.File("v9.npy", [.. ValidNpy(1)[..6], 9, 0, .. ValidNpy(1)[8..]]), null, "version 9.0");
        var hugeHeader = ValidNpy(2);
        BinaryPrimitives.WriteUInt32LittleEndian(hugeHeader.AsSpan(8), uint.MaxValue);
        Rejects(dir.File("hh.npy", hugeHeader), null, "header length 4294967295");
        var longHeader = ValidNpy(1);
        BinaryPrimitives.WriteUInt16LittleEndian(longHeader.AsSpan(8), 60000);
        Rejects(dir.File("lh.npy", longHeader), null, "truncated");
        Rejects(dir.File("notnpy.npy", "hello world, this is text"u8.ToArray()), null, "magic");
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False}", "no 'shape' key")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 6), 'extra': 1}", "not 'extra'")]
    [InlineData("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 6)}", "no second 'descr'")]
    [InlineData("{'descr': '<f4', 'fortran_order': false, 'shape': (3, 6)}", "True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': [3, 6]}", "a tuple")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (18)}", "1-tuple")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -6)}", "non-negative integer")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 6)} junk", "only spaces")]
    [InlineData("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (3, 6)}", "structured")]
    [InlineData("{'descr': '<f4, 'fortran_order': False, 'shape': (3, 6)}", "expected")]
    [InlineData("{'descr': '<f4' 'fortran_order': False, 'shape': (3, 6)}", "',' or '}'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 6)}", "below 2^63")]
    public void Npy_dict_parser_is_strict(string dict, string mention)
    {
        using var dir = new TempDir();
        Rejects(dir.File("h.npy", NpyWithHeader(dict, new byte[3 * Dim * 4])), null, mention);
    }

    [Fact]
    public void Npy_accepts_the_literal_variants_numpy_writes()
    {
        using var dir = new TempDir();
        var data = new byte[3 * Dim * 4];
        foreach (var dict in new[]
        {
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 6), }",
            "{'shape': (3, 6,), 'fortran_order': False, 'descr': '<f4'}",
            "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(3,6)}",
        })
            using (var ds = ActivationDataset.Open(dir.File("ok.npy", NpyWithHeader(dict, data))))
                Assert.Equal((3L, Dim), (ds.TokenCount, ds.Dim));
    }

    static string Tensor(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Fact]
    public void Safetensors_headers_that_lie_are_rejected()
    {
        using var dir = new TempDir();
        var buf = new byte[48];
        string S(string json, byte[]? buffer = null) => dir.File($"s{Guid.NewGuid():N}.safetensors", SafetensorsWithHeader(json, buffer ?? buf));

        Rejects(S("{" + Tensor("x", "F32", "[2,6]", 0, 48) + "}", new byte[40]), null, "'x'", "reach past");
        Rejects(S("{" + Tensor("x", "F32", "[3,6]", 0, 48) + "}"), null, "needs 72 bytes", "span 48");
        Rejects(S("{" + Tensor("x", "F32", "[2,6]", 0, 48) + "}", new byte[56]), null, "extra bytes");
        Rejects(S("{" + Tensor("x", "F16", "[2,6]", 0, 24) + "," + Tensor("y", "F16", "[2,6]", 16, 40) + "}", new byte[40]), null, "overlap", "'x'", "'y'");
        Rejects(S("{" + Tensor("x", "F16", "[2,6]", 8, 32) + "}", new byte[32]), null, "hole");
        Rejects(S("{" + Tensor("x", "F32", "[2,6]", 48, 0) + "}"), null, "end before");
        Rejects(S("{" + Tensor("x", "F99", "[2,6]", 0, 48) + "}"), null, "unknown dtype 'F99'");
        Rejects(S("{" + Tensor("x", "I32", "[2,6]", 0, 48) + "}"), null, "I32", "not supported");
        Rejects(S("{" + Tensor("x", "F32", "[12]", 0, 48) + "}"), null, "1 dimension");
        Rejects(S("{" + Tensor("x", "F32", "[4294967296,4294967296,4294967296]", 0, 48) + "}"), null, "overflows");
        Rejects(S("{" + Tensor("x", "F32", "[2,-6]", 0, 48) + "}"), null, "non-negative");
        Rejects(S("{" + Tensor("x", "F32", "[2,6]", 0, 48) + ",\"y\":{\"dtype\":\"F32\",\"shape\":[0]}}"), null, "missing data_offsets");
        Rejects(S("{\"x\":{\"dtype\":32,\"shape\":[2,6],\"data_offsets\":[0,48]}}"), null, "dtype: expected a string");
        Rejects(S("{" + Tensor("x", "F32", "[2,6]", 0, 48) + "," + Tensor("x", "F32", "[0,6]", 48, 48) + "}"), null, "twice");
        Rejects(S("[1,2]"), null, "JSON object");
        Rejects(S("{\"x\": nope}"), null, "not valid UTF-8 JSON");
        Rejects(S("{} x"), null, "padding");
        Rejects(S("{}", []), null, "no tensors");
        Rejects(S("{" + Tensor("x", "F32", "[1,6]", 0, 24) + "," + Tensor("y", "F32", "[1,6]", 24, 48) + "}"), null, "'x', 'y'", "name one");
        Rejects(S("{" + Tensor("x", "F32", "[1,6]", 0, 24) + "," + Tensor("y", "F32", "[1,6]", 24, 48) + "}"), new LoaderOptions { TensorName = "z" }, "no tensor named 'z'", "'x', 'y'");

        foreach (ulong claimed in new[] { ulong.MaxValue, 1UL << 63, 200_000_000UL, 100_000_000UL, 1000UL, 1UL, 0UL })
        {
            var bytes = ValidSafetensors();
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimed);
            Rejects(dir.File($"len{claimed}.safetensors", bytes), new LoaderOptions { TensorName = "a" });
        }
    }

    [Fact]
    public void Raw_empty_and_missing_files_and_bad_shards_are_rejected()
    {
        using var dir = new TempDir();
        var raw = new LoaderOptions { RawDType = ActivationDType.F16, RawDim = 5 };
        Rejects(dir.File("r.bin", new byte[21]), raw, "not a multiple of the 10-byte row", "1 bytes left");
        Rejects(dir.File("e.bin", []), raw, "empty");
        Rejects(dir.File("e.npy", []), null, "empty");
        Rejects(dir.File("r2.bin", new byte[20]), null, "unrecognised", "LoaderOptions.RawDType");
        Rejects(Path.Combine(dir.Path, "missing.npy"), null, "not found");
        Rejects(Path.Combine(dir.Path, "nothing*.npy"), null, "no files match");
        Rejects(Path.Combine(dir.Path, "nodir", "*.npy"), null, "not found");
        Rejects(dir.Sub("empty"), null, "no .npy or .safetensors");

        var shards = dir.Sub("mixed");
        File.WriteAllBytes(Path.Combine(shards, "a.npy"), Npy("<f4", [2, 4], new byte[32]));
        File.WriteAllBytes(Path.Combine(shards, "b.npy"), Npy("<f4", [2, 8], new byte[64]));
        var e = Assert.Throws<ActivationFormatException>(() => ActivationDataset.Open(Path.Combine(shards, "*.npy")));
        Assert.StartsWith(Path.Combine(shards, "b.npy"), e.Message);
        Assert.Equal(Path.Combine(shards, "b.npy"), e.FilePath);
        Assert.Contains("d = 8", e.Message);
        Assert.Contains("d = 4", e.Message);
        Assert.Contains("a.npy", e.Message);
        Rejects(dir.File("zero.npy", Npy("<f4", [0, 4], [])), null, "no rows");
    }

    [Fact]
    public void Nan_rows_stop_the_stream_naming_file_and_row_or_are_skipped_and_counted()
    {
        using var dir = new TempDir();
        var good = Values(10 * Dim, ActivationDType.F32, 4);
        var bad = (float[])good.Clone();
        bad[7 * Dim + 2] = float.NaN;
        bad[3 * Dim] = float.NegativeInfinity;
        var a = dir.File("a.npy", Npy("<f4", [10, Dim], Encode(good, ActivationDType.F32)));
        var b = dir.File("b.npy", Npy("<f4", [10, Dim], Encode(bad, ActivationDType.F32)));
        var batch = new float[20 * Dim];
        foreach (bool shuffle in new[] { false, true })
        {
            using (var ds = ActivationDataset.Open([a, b]))
            using (var s = ds.OpenStream(1, 0, new StreamOptions { Shuffle = shuffle, ChunkRows = 4 }))
            {
                var e = Assert.Throws<ActivationFormatException>(() => s.NextBatch(batch, 20));
                Assert.Equal(b, e.FilePath);
                Assert.Matches(@"row (3|7) \(dataset row 1[37]\)", e.Message);
            }
            using (var ds = ActivationDataset.Open([a, b], new LoaderOptions { NonFinite = NonFiniteRows.Skip }))
            using (var s = ds.OpenStream(1, 0, new StreamOptions { Shuffle = shuffle, ChunkRows = 4 }))
            {
                s.NextBatch(batch, 18);
                Assert.Equal((2L, 20L), (s.SkippedRows, s.Position));
                Assert.False(GbaEngine.Kernels.Elementwise.NonFinite.AnyScalar(batch.AsSpan(0, 18 * Dim)));
            }
        }
        var allBad = dir.File("nan.npy", Npy("<f4", [3, Dim], Encode(Enumerable.Repeat(float.NaN, 3 * Dim).ToArray(), ActivationDType.F32)));
        using (var ds = ActivationDataset.Open(allBad, new LoaderOptions { NonFinite = NonFiniteRows.Skip }))
        using (var s = ds.OpenStream(1))
            Assert.Contains("non-finite", Assert.Throws<ActivationFormatException>(() => s.NextBatch(batch, 1)).Message);
    }

    /// <summary>A corruption of a valid file: byte changes in the header, a cut, or junk appended.</summary>
    public record Corruption(int Kind, int File, int[] Positions, byte[] Values, int Length);

    static Arbitrary<Corruption> Corruptions() =>
        (from kind in Gen.Choose(0, 3)
         from file in Gen.Choose(0, 3)
         from count in Gen.Choose(1, 3)
         from positions in Gen.ArrayOf(Gen.Choose(0, 1 << 20), count)
         from values in Gen.ArrayOf(Gen.Choose(1, 255).Select(v => (byte)v), count)
         from length in Gen.Choose(0, 1 << 20)
         select new Corruption(kind, file, positions, values, length)).ToArbitrary();

    [Fact]
    public void Random_corruptions_give_a_correct_read_or_the_loaders_exception()
    {
        using var dir = new TempDir();
        var f16 = Values(5 * Dim, ActivationDType.F16, 8);
        var bf16 = Values(4 * Dim, ActivationDType.BF16, 9);
        var originals = new (string Name, byte[] Bytes, float[] Values, int HeaderEnd)[]
        {
            ("v1.npy", Npy("<f2", [5, Dim], Encode(f16, ActivationDType.F16)), f16, 128),
            ("v3.npy", Npy("<f2", [1, 5, Dim], Encode(f16, ActivationDType.F16), version: 3), f16, 128),
            ("one.safetensors", Safetensors([new("x", "F16", [5, Dim], Encode(f16, ActivationDType.F16))]), f16, 0),
            ("two.safetensors", Safetensors([new("a", "F32", [1, 2, 3], new byte[24]), new("b", "BF16", [4, Dim], Encode(bf16, ActivationDType.BF16))]), bf16, 0),
        };
        int cases = 0, readOk = 0;
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(400), Prop.ForAll(Corruptions(), c =>
        {
            var (name, original, values, headerEnd) = originals[c.File];
            if (headerEnd == 0) headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
            var bytes = (byte[])original.Clone();
            switch (c.Kind)
            {
                case 0: // one changed header byte: a single edit cannot swap shape digits into a consistent lie
                    bytes[c.Positions[0] % headerEnd] ^= c.Values[0];
                    break;
                case 1: // several changed bytes anywhere in the header, none in the data
                    for (int i = 0; i < c.Positions.Length; i++) bytes[c.Positions[i] % headerEnd] = c.Values[i];
                    break;
                case 2:
                    bytes = bytes[..(c.Length % bytes.Length)];
                    break;
                default:
                    bytes = [.. bytes, .. c.Values, .. new byte[c.Length % 64]];
                    break;
            }
            var path = dir.File($"c{cases++}-{name}", bytes);
            var options = new LoaderOptions { TensorName = name == "two.safetensors" ? "b" : null };
            // A dedicated thread (LongRunning), not the pool: with other tests saturating the pool on a loaded
            // 2-core machine, a queued work item waited past the watchdog before the loader even started.
            var attempt = Task.Factory.StartNew(() =>
            {
                try
                {
                    using var ds = ActivationDataset.Open(path, options);
                    var all = ReadAll(ds);
                    using var s = ds.OpenStream(3, 0, new StreamOptions { ChunkRows = 2 });
                    s.NextBatch(new float[3 * ds.TokenCount * ds.Dim], (int)(3 * ds.TokenCount));
                    return (object)all;
                }
                catch (Exception e)
                {
                    return e;
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            Assert.True(attempt.Wait(TimeSpan.FromSeconds(10)), $"loader hung on {path}");
            switch (attempt.Result)
            {
                case float[] read:
                    // Edits that change nothing the reader depends on (whitespace, the metadata, the name of the
                    // only tensor) may succeed; then the values must be exact.
                    AssertBitsEqual(values, read);
                    readOk++;
                    break;
                case ActivationFormatException e:
                    Assert.StartsWith(path, e.Message);
                    break;
                case Exception e:
                    Assert.Fail($"{path} ({c}): {e.GetType().Name} escaped the loader: {e}");
                    break;
            }
        }));
        Assert.True(readOk < cases, "every corruption read fine: the corruptions are not reaching the parser");
    }
}
