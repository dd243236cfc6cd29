using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Tests.Activations;
using static GbaEngine.Tests.Activations.TestFiles;

namespace GbaEngine.Tests.Formats;

/// <summary>
/// The streaming row writer: tensors written batch by batch, out of order, read back by the loader exactly (values
/// representable in the dtype) or rounded as IEEE half and bfloat16 round; a file is under its name only when whole.
/// </summary>
public class SafetensorsRowWriterTests
{
    const int Rows = 23;
    static readonly (string Name, int Width)[] Tensors = [("a", 5), ("b.c", 17)];

    [Theory]
    [InlineData(ActivationDType.F32)]
    [InlineData(ActivationDType.F16)]
    [InlineData(ActivationDType.BF16)]
    public void Rows_written_in_any_order_read_back_exactly(ActivationDType dtype)
    {
        using var dir = new TempDir();
        var path = dir["x.safetensors"];
        var values = Tensors.Select((t, i) => Values(Rows * t.Width, dtype, 7 + i)).ToArray();
        using (var w = new SafetensorsRowWriter(path, Tensors, Rows, dtype, new Dictionary<string, string> { ["format"] = "test" }))
        {
            // Batches of 4 rows, last batch first and the tensors interleaved: offsets, not order, place them.
            for (int first = (Rows - 1) / 4 * 4; first >= 0; first -= 4)
                for (int t = 0; t < Tensors.Length; t++)
                {
                    int n = Math.Min(4, Rows - first), d = Tensors[t].Width;
                    w.Write(t, first, values[t].AsSpan(first * d, n * d));
                }
            Assert.False(File.Exists(path));
            w.Complete();
        }
        Assert.True(File.Exists(path));
        Assert.False(File.Exists(path + SafetensorsRowWriter.PartialSuffix));
        for (int t = 0; t < Tensors.Length; t++)
        {
            using var ds = ActivationDataset.Open(path, new LoaderOptions { TensorName = Tensors[t].Name });
            Assert.Equal((dtype, (long)Rows, Tensors[t].Width), (ds.Shards[0].DType, ds.TokenCount, ds.Dim));
            AssertBitsEqual(values[t], ReadAll(ds));
        }
    }

    [Theory]
    [InlineData(ActivationDType.F16)]
    [InlineData(ActivationDType.BF16)]
    public void Values_not_representable_are_rounded_to_nearest_even(ActivationDType dtype)
    {
        using var dir = new TempDir();
        var rng = new Random(3);
        var wide = Enumerable.Range(0, Rows * 5).Select(_ => (float)(rng.NextDouble() * 20 - 10)).ToArray();
        using (var w = new SafetensorsRowWriter(dir["h.safetensors"], [("a", 5)], Rows, dtype))
        {
            w.Write(0, 0, wide);
            w.Complete();
        }
        using var ds = ActivationDataset.Open(dir["h.safetensors"]);
        var back = ReadAll(ds);
        for (int i = 0; i < wide.Length; i++)
            Assert.Equal(dtype == ActivationDType.F16 ? (float)(Half)wide[i] : BFloat16Nearest(wide[i]), back[i]);
    }

    /// <summary>bfloat16 rounding from its definition: the nearer of the two neighbours, ties to the even mantissa.</summary>
    static float BFloat16Nearest(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        float down = BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u), up = BitConverter.UInt32BitsToSingle((bits & 0xFFFF0000u) + 0x10000u);
        double dDown = Math.Abs((double)x - down), dUp = Math.Abs((double)up - x);
        if (dDown != dUp) return dDown < dUp ? down : up;
        return ((bits >> 16) & 1) == 0 ? down : up;
    }

    [Fact]
    public void BFloat16_ties_go_to_even_and_nan_stays_nan()
    {
        Assert.Equal(0x3F80, SafetensorsRowWriter.ToBFloat16(1f));
        Assert.Equal(0x3F80, SafetensorsRowWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie, even stays
        Assert.Equal(0x3F82, SafetensorsRowWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie, odd rounds up
        Assert.Equal(0x3F81, SafetensorsRowWriter.ToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(BitConverter.UInt32BitsToSingle((uint)SafetensorsRowWriter.ToBFloat16(float.NaN) << 16)));
    }

    [Fact]
    public void A_file_not_completed_leaves_nothing_behind()
    {
        using var dir = new TempDir();
        using (var w = new SafetensorsRowWriter(dir["x.safetensors"], Tensors, Rows, ActivationDType.F32))
        {
            w.Write(0, 0, new float[5]);
            Assert.True(File.Exists(dir["x.safetensors"] + SafetensorsRowWriter.PartialSuffix));
        }
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Rows_outside_the_tensor_and_ragged_rows_are_refused()
    {
        using var dir = new TempDir();
        using var w = new SafetensorsRowWriter(dir["x.safetensors"], Tensors, Rows, ActivationDType.F32);
        Assert.Throws<ArgumentOutOfRangeException>(() => w.Write(0, Rows - 1, new float[10]));
        Assert.Throws<ArgumentException>(() => w.Write(1, 0, new float[16]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SafetensorsRowWriter(dir["y.safetensors"], Tensors, Rows, ActivationDType.F64));
    }
}
