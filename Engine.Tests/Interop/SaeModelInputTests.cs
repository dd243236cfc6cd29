using GbaEngine.Evaluation;
using GbaEngine.Inference;
using GbaEngine.Model;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// The inference API refuses what it cannot encode honestly: a row of the wrong length (reading a prefix
/// hid a caller's mix-up of rows and widths) and NaN/inf tokens (they came back with no features at all).
/// </summary>
public class SaeModelInputTests
{
    static SaeModel Model() =>
        SaeModel.FromAutoencoder(EngineRoundTripTests.RandomSae(true, SaeActivation.Relu, SparsityMode.Threshold, InputNormalization.PerToken, 8, 6, 12));

    [Theory]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(12)]
    public void ARowOfTheWrongLengthIsRefused(int length)
    {
        var model = Model();
        var e = Assert.Throws<ArgumentException>(() => model.Encode(new float[length]));
        Assert.Equal("x", e.ParamName);
        Assert.Contains($"holds {length} floats", e.Message);
        Assert.Throws<ArgumentException>(() => model.EncodeBatch(new float[2 * 6 + 1], 2));
        Assert.Throws<ArgumentException>(() => model.Decode([0], [1f], new float[length]));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteTokensAreRefusedNamingTheToken(float bad)
    {
        var model = Model();
        var row = Enumerable.Range(0, 6).Select(i => 0.3f * i - 0.5f).ToArray();
        Assert.NotNull(model.Encode(row));
        var batch = new float[3 * 6];
        for (int t = 0; t < 3; t++) row.CopyTo(batch, t * 6);
        batch[2 * 6 + 4] = bad;
        var e = Assert.Throws<ArgumentException>(() => model.EncodeBatch(batch, 3));
        Assert.Contains("token 2", e.Message);
        row[1] = bad;
        Assert.Throws<ArgumentException>(() => model.Encode(row));
    }

    [Fact]
    public void AnEvaluationSetIsFiniteAndNotEmpty()
    {
        Assert.Contains("at least one token", Assert.Throws<ArgumentException>(() => new EvaluationSet([], 4)).Message);
        var tokens = new float[3 * 4];
        tokens[9] = float.NaN;
        Assert.Contains("token 2", Assert.Throws<ArgumentException>(() => new EvaluationSet(tokens, 4)).Message);
    }
}
