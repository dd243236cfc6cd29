using GbaEngine.Benchmarks.Regression.Compare;
using GbaEngine.Benchmarks.Regression.Results;
using static GbaEngine.Benchmarks.Tests.SyntheticResults;

namespace GbaEngine.Benchmarks.Tests;

public sealed class ResultsFileTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gba-results-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void RoundTripKeepsEverySample()
    {
        var run = Run([Entry("sgemm/1x2x3", Noisy(100, 0.1, 7, 1)), Entry("loader/f32", Noisy(5, 0.1, 9, 2))]);
        ResultsFile.Write(PathOf("a.json"), run);
        var back = ResultsFile.Read(PathOf("a.json"));
        Assert.Equal(run.Machine.IsaFlags, back.Machine.IsaFlags);
        Assert.Equal(run.Entries.Select(e => e.Name), back.Entries.Select(e => e.Name));
        for (int i = 0; i < run.Entries.Count; i++)
            Assert.Equal(run.Entries[i].Samples, back.Entries[i].Samples);
        Assert.Contains("\"cpu_seconds\"", File.ReadAllText(PathOf("a.json")));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var e = Assert.Throws<FileNotFoundException>(() => ResultsFile.Read(PathOf("none.json")));
        Assert.Contains("none.json", e.Message);
    }

    [Theory]
    [InlineData("not json at all", "not a benchmark results file")]
    [InlineData("null", "empty results file")]
    public void GarbageIsRejectedWithTheFileName(string content, string expected)
    {
        File.WriteAllText(PathOf("bad.json"), content);
        var e = Assert.Throws<InvalidDataException>(() => ResultsFile.Read(PathOf("bad.json")));
        Assert.Contains("bad.json", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void WrongFormatDuplicatesAndBadSamplesAreRejected()
    {
        void Expect(BenchmarkResults r, string expected)
        {
            ResultsFile.Write(PathOf("r.json"), r);
            var e = Assert.Throws<InvalidDataException>(() => ResultsFile.Read(PathOf("r.json")));
            Assert.Contains(expected, e.Message);
        }
        var good = Entry("e", [1, 2, 3]);
        Expect(Run([good]) with { Format = "other/2" }, "format 'other/2'");
        Expect(Run([good, good]), "entry 'e' appears 2 times");
        Expect(Run([good with { Direction = "sideways" }]), "direction 'sideways'");
        Expect(Run([good with { Samples = [] }]), "entry 'e' has no samples");
        Expect(Run([good with { Samples = [good.Samples[0] with { WallSeconds = 0 }] }]), "entry 'e' has a sample");
    }

    [Fact]
    public void CompareCommandExitsOneOnARegressionAndZeroOtherwise()
    {
        ResultsFile.Write(PathOf("base.json"), Run([Entry("e", Noisy(100, 0.02, 10, 1))]));
        ResultsFile.Write(PathOf("same.json"), Run([Entry("e", Noisy(100, 0.02, 10, 2))]));
        ResultsFile.Write(PathOf("slow.json"), Run([Entry("e", Noisy(50, 0.02, 10, 3))]));
        var saved = Console.Out;
        var output = new StringWriter();
        Console.SetOut(output);
        try
        {
            Assert.Equal(0, CompareCommand.Run(["--compare", PathOf("base.json"), PathOf("same.json")]));
            Assert.Equal(1, CompareCommand.Run(["--compare", PathOf("base.json"), PathOf("slow.json"), "--threshold", "5%"]));
        }
        finally
        {
            Console.SetOut(saved);
        }
        Assert.Contains("REGRESSION: 1 slower (e)", output.ToString());
        Assert.Contains("No regression", output.ToString());
    }

    [Theory]
    [InlineData("5%", 0.05)]
    [InlineData("0.05", 0.05)]
    [InlineData("12.5%", 0.125)]
    public void ThresholdAcceptsPercentagesAndFractions(string text, double expected) =>
        Assert.Equal(expected, CompareCommand.ParseThreshold(text), 1e-12);

    [Theory]
    [InlineData("five")]
    [InlineData("-5%")]
    public void BadThresholdNamesTheFlag(string text) =>
        Assert.Contains("--threshold", Assert.Throws<ArgumentException>(() => CompareCommand.ParseThreshold(text)).Message);
}
