using System.Buffers.Binary;
using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Rng;
using GbaEngine.Streams;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// The activation loader delivering fp32 batches in file order from a raw f32, f16 or bf16 file in
/// the page cache (written by the suite just before): the reading, conversion and NaN scan a
/// training run does for every batch. One thread (the loader is synchronous).
/// </summary>
internal sealed class LoaderEntry : RegressionEntry
{
    public const int Rows = 32768, Dim = 512, BatchRows = 8192;

    readonly ActivationDataset _dataset;
    readonly ActivationStream _stream;
    readonly float[] _batch = new float[BatchRows * Dim];

    public LoaderEntry(ActivationDType type, string path)
    {
        Name = $"loader/{type.ToString().ToLowerInvariant()}";
        _dataset = ActivationDataset.Open(path, new LoaderOptions { RawDType = type, RawDim = Dim });
        _stream = _dataset.OpenStream(1, 0, new StreamOptions { Shuffle = false });
        Parameters = new Dictionary<string, string>
        {
            ["file"] = $"raw {type}, {Rows} rows x d {Dim}, in the page cache",
            ["batch_rows"] = $"{BatchRows}",
        };
    }

    public override string Name { get; }
    public override string WorkUnit => "GB";
    /// <summary>fp32 bytes delivered (1 GB = 1e9 bytes), whatever the file's type.</summary>
    public override double WorkPerOp => (double)BatchRows * Dim * sizeof(float) / 1e9;
    public override int Threads => 1;
    public override IReadOnlyDictionary<string, string> Parameters { get; }

    public override void Run() => _stream.NextBatch(_batch, BatchRows);

    public override void Dispose() => _dataset.Dispose();

    /// <summary>Writes the same seeded values as raw f32, f16 and bf16 files to <paramref name="paths"/>.</summary>
    public static void WriteFiles(IReadOnlyDictionary<ActivationDType, string> paths)
    {
        var rng = new Xoshiro256(11);
        var f32 = new byte[(long)Rows * Dim * 4];
        var f16 = new byte[(long)Rows * Dim * 2];
        var bf16 = new byte[(long)Rows * Dim * 2];
        for (int i = 0; i < Rows * Dim; i++)
        {
            float v = (float)(rng.NextGaussian() * 2);
            BinaryPrimitives.WriteSingleLittleEndian(f32.AsSpan(i * 4), v);
            BinaryPrimitives.WriteUInt16LittleEndian(f16.AsSpan(i * 2), BitConverter.HalfToUInt16Bits((Half)v));
            // bf16: the top half of the fp32 bits, rounded to nearest even.
            uint bits = BitConverter.SingleToUInt32Bits(v);
            BinaryPrimitives.WriteUInt16LittleEndian(bf16.AsSpan(i * 2), (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16));
        }
        File.WriteAllBytes(paths[ActivationDType.F32], f32);
        File.WriteAllBytes(paths[ActivationDType.F16], f16);
        File.WriteAllBytes(paths[ActivationDType.BF16], bf16);
    }
}
