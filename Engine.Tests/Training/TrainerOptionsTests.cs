using GbaEngine.Training;

namespace GbaEngine.Tests.Training;

/// <summary><see cref="TrainerOptions.Steps"/> is settable (the issue: read-only, so a step budget had to be multiplied out by hand).</summary>
public class TrainerOptionsTests
{
    [Fact]
    public void StepsFixTheBudgetWhateverOrderTheBatchIsSetIn()
    {
        var a = new TrainerOptions { Steps = 100, BatchSize = 64 };
        var b = new TrainerOptions { BatchSize = 64, Steps = 100 };
        Assert.Equal((100, 6400), (a.Steps, a.Tokens));
        Assert.Equal((100, 6400), (b.Steps, b.Tokens));
        var c = a with { Tokens = 1000 };                             // the last of Steps and Tokens set wins
        Assert.Equal((16, 1000), (c.Steps, c.Tokens));
        Assert.Equal(600, new TrainerOptions { Tokens = 600, BatchSize = 64 }.Tokens);
        Assert.Equal(10, new TrainerOptions { Tokens = 600, BatchSize = 64 }.Steps);
    }

    [Fact]
    public void TheJsonCarriesTheBudgetAsTokensAndStillReadsAStepBudget()
    {
        var o = new TrainerOptions { Steps = 30, BatchSize = 128 };
        var json = TrainerOptionsJson.Write(o);
        Assert.Equal(3840, (long)json["tokens"]!);
        Assert.Equal(30, (long)json["steps"]!);
        // The same run (record equality would also compare how the budget was given).
        Assert.Equal(json.ToJsonString(), TrainerOptionsJson.Write(TrainerOptionsJson.Read(json, "test")).ToJsonString());
        Assert.Equal(30, TrainerOptionsJson.Read(new System.Text.Json.Nodes.JsonObject { ["steps"] = 30, ["batch_size"] = 128 }, "test").Steps);
    }

    [Fact]
    public void ABadStepCountIsNamedByItsProperty()
    {
        var e = Assert.Throws<ArgumentException>(new TrainerOptions { Steps = -3 }.Validate);
        Assert.Equal(nameof(TrainerOptions.Steps), e.ParamName);
        Assert.Contains("got -3", e.Message);
    }
}
