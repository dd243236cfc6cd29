using GbaEngine.Model;
using GbaEngine.Training;
using GbaEngine.Tests.Reference;

namespace GbaEngine.Tests.Training;

[Trait("Category", "Kernels")]
public class BiasRuleTests
{
    static FiringStatistics Stats(long tokens, long[] fires, float[] maxY)
    {
        var s = new FiringStatistics(fires.Length);
        s.Restore(fires, maxY, tokens);
        return s;
    }

    [Fact]
    public void OverActiveLoweredByGammaTimesPeakAndClampedAtMinusOne()
    {
        var gba = new GroupBiasAdaptation(2, [0.1], seed: 1, gammaPlus: 0.01, gammaMinus: 0.5);
        var bias = new float[] { -0.2f, -0.9f };
        var summary = gba.Update(Stats(100, [50, 50], [0.4f, 0.6f]), bias);
        Assert.Equal(-0.2f - 0.5f * 0.4f, bias[0], 6);
        Assert.Equal(-1f, bias[1]);                     // -0.9 - 0.3 clamps at -1
        Assert.Equal(2, summary.Lowered);
    }

    [Fact]
    public void DeadRaisedByGroupMeanPeakAndClampedAtZero()
    {
        // One group; neurons 0,1 fire in band (peaks 0.2, 0.4 → r̄ = 0.3), neurons 2,3 dead.
        var gba = new GroupBiasAdaptation(4, [0.5], seed: 1, gammaPlus: 0.5, gammaMinus: 0.01);
        var bias = new float[] { -0.1f, -0.1f, -0.5f, -0.05f };
        var summary = gba.Update(Stats(100, [10, 10, 0, 0], [0.2f, 0.4f, -0.3f, -0.01f]), bias);
        Assert.Equal(-0.1f, bias[0]);                   // in band: untouched
        Assert.Equal(-0.1f, bias[1]);
        Assert.Equal(-0.5f + 0.5f * 0.3f, bias[2], 6);
        Assert.Equal(0f, bias[3]);                      // -0.05 + 0.15 clamps at 0
        Assert.Equal((0, 2, 2), (summary.Lowered, summary.Raised, summary.Unchanged));
    }

    [Fact]
    public void EdgeRuleLiftsADeadNeuronByItsShortfallThenBySteps()
    {
        // Neurons 0,1 fire in band (peaks 0.2, 0.4: r̄ = 0.3); neuron 2 is dead with peak y = −0.3, so its largest
        // pre-activation z = y − b = 0.2 needs b = −0.2 to sit on the threshold, then + γ₊·r̄ = 0.03 above it.
        var gba = new GroupBiasAdaptation(4, [0.5], seed: 1, gammaPlus: 0.1, gammaMinus: 0.01, rule: BiasRule.Edge);
        var bias = new float[] { -0.1f, -0.1f, -0.5f, -0.02f };
        var summary = gba.Update(Stats(100, [10, 10, 0, 0], [0.2f, 0.4f, -0.3f, -0.01f]), bias);
        Assert.Equal(-0.1f, bias[0]);
        Assert.Equal(-0.5f + 0.3f + 0.1f * 0.3f, bias[2], 6);
        Assert.Equal(0f, bias[3]);                      // −0.02 + 0.01 + 0.03 clamps at 0
        Assert.Equal((0, 2, 2), (summary.Lowered, summary.Raised, summary.Unchanged));
        // The lifted neuron now fires on its peak token: z + b > 0.
        Assert.True(0.2f + bias[2] > 0);
    }

    [Fact]
    public void EdgeRuleWithoutAPeakFallsBackToThePapersStep()
    {
        // A neuron that saw no token in the buffer has peak −∞: only the paper's step applies.
        var gba = new GroupBiasAdaptation(2, [0.5], seed: 1, gammaPlus: 0.5, rule: BiasRule.Edge);
        var bias = new float[] { -0.1f, -0.8f };
        gba.Update(Stats(100, [10, 0], [0.2f, float.NegativeInfinity]), bias);
        Assert.Equal(-0.8f + 0.5f * 0.2f, bias[1], 6);
    }

    [Fact]
    public void PaperAndEdgeRulesAgreeOnLiveNeurons()
    {
        var stats = Stats(1000, [500, 20, 1], [0.6f, 0.3f, 0.1f]);
        var paper = new float[] { -0.2f, -0.3f, -0.4f };
        var edge = (float[])paper.Clone();
        new GroupBiasAdaptation(3, [0.1], seed: 1).Update(stats, paper);
        new GroupBiasAdaptation(3, [0.1], seed: 1, rule: BiasRule.Edge).Update(stats, edge);
        Assert.Equal(paper, edge);
        Assert.Equal(-0.2f - 0.01f * 0.6f, paper[0], 6);  // too active: lowered by γ₋·r in both
    }

    [Fact]
    public void InBandNeuronsUntouched()
    {
        var gba = new GroupBiasAdaptation(3, [0.1], seed: 1);
        var bias = new float[] { -0.3f, -0.4f, -0.5f };
        // q = 0.01, 0.05, 0.1 (equal to p is not "above"): all in (eps, p].
        gba.Update(Stats(1000, [10, 50, 100], [1f, 1f, 1f]), bias);
        Assert.Equal(new[] { -0.3f, -0.4f, -0.5f }, bias);
    }

    [Fact]
    public void GroupWithoutPositivePeaksFallsBackToGlobalMean()
    {
        // Find a seed-independent split by reading the assignment: put all live neurons in one group.
        var gba = new GroupBiasAdaptation(4, [0.5, 0.5], seed: 3, gammaPlus: 1.0);
        int g0 = gba.GroupOf[0];
        var fires = new long[4];
        var maxY = new float[4];
        for (int m = 0; m < 4; m++)
        {
            bool live = gba.GroupOf[m] == g0;
            fires[m] = live ? 10 : 0;
            maxY[m] = live ? (m + 1) * 0.1f : -0.2f;
        }
        double globalMean = Enumerable.Range(0, 4).Where(m => gba.GroupOf[m] == g0).Average(m => (m + 1) * 0.1);
        var bias = new float[] { -0.9f, -0.9f, -0.9f, -0.9f };
        gba.Update(Stats(100, fires, maxY), bias);
        for (int m = 0; m < 4; m++)
            if (gba.GroupOf[m] != g0) Assert.Equal((float)(-0.9 + globalMean), bias[m], 5);
    }

    [Fact]
    public void NoPositivePeakAnywhereSkipsTheUpdate()
    {
        var gba = new GroupBiasAdaptation(2, [0.5], seed: 1);
        var bias = new float[] { -0.5f, -0.5f };
        var s = gba.Update(Stats(100, [0, 0], [-0.1f, -0.2f]), bias);
        Assert.True(s.Skipped);
        Assert.Equal(new[] { -0.5f, -0.5f }, bias);
    }

    [Fact]
    public void StatisticsResetClearsCountsPeaksAndTokens()
    {
        var s = Stats(100, [5, 6], [0.3f, 0.4f]);
        s.Reset();
        Assert.Equal(0, s.Tokens);
        Assert.All(s.FireCount, c => Assert.Equal(0, c));
        Assert.All(s.MaxY, v => Assert.Equal(float.NegativeInfinity, v));
    }

    [Fact]
    public void TafScheduleIsGeometricFromHtfToLtf()
    {
        var p = GroupBiasAdaptation.Schedule(10, 0.1, 1e-3);
        Assert.Equal(0.1, p[0], 12);
        Assert.Equal(1e-3, p[^1], 12);
        double ratio = Math.Pow(1e-3 / 0.1, 1.0 / 9);
        for (int k = 1; k < p.Length; k++) Assert.Equal(ratio, p[k] / p[k - 1], 10);
        Assert.Equal([0.05], GroupBiasAdaptation.Schedule(1, 0.05, 0.05));
        Assert.Throws<ArgumentException>(() => GroupBiasAdaptation.Schedule(3, 0.01, 0.1));
    }

    [Fact]
    public void GroupsAreEqualSizedAndSeeded()
    {
        var a = GroupBiasAdaptation.AssignGroups(1003, 10, 42);
        var b = GroupBiasAdaptation.AssignGroups(1003, 10, 42);
        var c = GroupBiasAdaptation.AssignGroups(1003, 10, 43);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        var sizes = a.GroupBy(g => g).Select(g => g.Count()).ToArray();
        Assert.Equal(10, sizes.Length);
        Assert.True(sizes.Max() - sizes.Min() <= 1);
    }

    [Fact]
    public void QuantileWarmStartHitsTheTargetFrequency()
    {
        // One neuron whose z takes 1000 evenly spaced values in (0, 1]: the (1 - p) quantile is 1 - p.
        var q = new QuantileBiasInit(1);
        var code = new SparseCodeBuilder(1000, t => (t + 1) / 1000f).Build();
        q.Add(code);
        Assert.Equal(0.9, q.Threshold(0, 0.1), 2);
        Assert.Equal(0.99, q.Threshold(0, 0.01), 2);
        var bias = new float[1];
        q.Apply(bias, _ => 0.25);
        Assert.Equal(-0.75f, bias[0], 2);
        Assert.Equal(0.0, q.Threshold(0, 1.5));   // asks for more than ever fired: threshold 0 (b = 0)
    }

    [Fact]
    public void BudgetWarningNamesTheTokensThatGiveEnoughUpdates()
    {
        Assert.Null(new TrainerOptions().BudgetWarning());                        // the defaults are enough
        var shortRun = new TrainerOptions { Tokens = 512L * 1000 };                 // 20 updates of 25,600 tokens
        Assert.Contains("20 updates", shortRun.BudgetWarning());
        Assert.Contains("2,560,000 tokens", shortRun.BudgetWarning());
        var quantile = new TrainerOptions { BiasInit = BiasInitialization.Quantile };  // 120 of the 1,000 it needs
        Assert.Contains("25,600,000 tokens", quantile.BudgetWarning());
        Assert.Null(new TrainerOptions { Method = TrainingMethod.TopK, Tokens = 512 }.BudgetWarning());
    }
}
