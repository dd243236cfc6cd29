using GbaEngine.Activations;
using GbaEngine.Evaluation;
using GbaEngine.Tests.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Tests.Evaluation;

[Trait("Category", "Kernels")]
public class GroundTruthTests
{
    static string Temp(string name, byte[] bytes)
    {
        var dir = Path.Combine(Path.GetTempPath(), "gba-gt-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static void Cleanup(string path) => Directory.Delete(Path.GetDirectoryName(path)!, true);

    [Theory]
    [InlineData(ActivationDType.F32)]
    [InlineData(ActivationDType.F16)]
    public void NpyMatrixLoadsRowMajorInEitherPrecision(ActivationDType dtype)
    {
        var v = TestFiles.Values(5 * 3, dtype, seed: 4).Select(x => x == 0 ? 1f : x).ToArray();
        var path = Temp("v.npy", TestFiles.Npy(TestFiles.NpyDescr(dtype), [5, 3], TestFiles.Encode(v, dtype)));
        try { Assert.Equal(v, GroundTruth.Load(path, 3)); }
        finally { Cleanup(path); }
    }

    [Fact]
    public void SafetensorsMatrixLoads()
    {
        var v = new float[] { 1, 0, 0, 0, 2, 0 };
        var path = Temp("v.safetensors", TestFiles.Safetensors([new TestFiles.Tensor("V", "F32", [2, 3], TestFiles.Encode(v, ActivationDType.F32))]));
        try { Assert.Equal(v, GroundTruth.Load(path, 3)); }
        finally { Cleanup(path); }
    }

    [Theory]
    [InlineData(new long[] { 4, 5 }, 3, "d = 5, but the activations have d = 3")]
    [InlineData(new long[] { 2, 2, 3 }, 3, "expected a 2-D matrix")]
    [InlineData(new long[] { 0, 3 }, 3, "no features")]
    public void WrongShapesAreOneClearErrorNamingTheFile(long[] shape, int dim, string message)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var path = Temp("truth.npy", TestFiles.Npy("<f4", shape, TestFiles.Encode(Enumerable.Repeat(1f, (int)count).ToArray(), ActivationDType.F32)));
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => GroundTruth.Load(path, dim));
            Assert.Contains(path, e.Message);
            Assert.Contains(message, e.Message);
        }
        finally { Cleanup(path); }
    }

    [Theory]
    [InlineData(float.NaN, "non-finite")]
    [InlineData(0f, "zero vector")]
    public void BadRowsAreRejected(float value, string message)
    {
        var v = new float[] { 1, 2, 3, value, value, value };
        var path = Temp("truth.npy", TestFiles.Npy("<f4", [2, 3], TestFiles.Encode(v, ActivationDType.F32)));
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => GroundTruth.Load(path, 3));
            Assert.Contains("feature 1", e.Message);
            Assert.Contains(message, e.Message);
        }
        finally { Cleanup(path); }
    }

    [Fact]
    public void MissingAndUnreadableFilesNameThePath()
    {
        Assert.Contains("/nonexistent/v.npy", Assert.Throws<FileNotFoundException>(() => GroundTruth.Load("/nonexistent/v.npy", 3)).Message);
        var path = Temp("v.bin", new byte[24]);
        try { Assert.Contains(path, Assert.ThrowsAny<Exception>(() => GroundTruth.Load(path, 3)).Message); }
        finally { Cleanup(path); }
    }
}
