using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;
using GbaEngine.Tests.Reference;
using GbaEngine.Threading;
using GbaEngine.Training.Baselines;
using static GbaEngine.Tests.Training.Baselines.BaselineProblem;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>L1 (ReLU, loss + λ·Σ|a_m|‖w_m‖h_m): the float64 reference against finite differences, and
/// the engine's sparse float32 step (SparseBackward + L1Penalty) against the reference.</summary>
[Trait("Category", "Kernels")]
public class L1PenaltyTests
{
    const int D = 5, M = 7, N = 6;
    const double Lambda = 0.3;

    static SaeArchitecture Arch(bool tied) => new(D, M, tied, SaeActivation.Relu);

    /// <summary>Every |y| keeps a margin from 0, so the active set survives a 1e-6 perturbation.</summary>
    static (SaeParameters, float[]) Problem(bool tied, ulong seed) =>
        Draw(Arch(tied), N, seed, y => y.All(v => Math.Abs(v) > 1e-3), signedScale: true);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReferenceGradientMatchesFiniteDifferences(bool tied)
    {
        var (p, xf) = Problem(tied, 3);
        var r = ReferenceSae.From(Arch(tied), p);
        var x = ToDouble(xf);
        var g = Sum(r.Gradient(x, N), ReferenceBaselines.L1Gradient(r, x, N, Lambda));
        double F() => r.Loss(x, N) + ReferenceBaselines.L1Penalty(r, x, N, Lambda);
        CheckEveryParameter(r, g, F, tied);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 3)]
    public void EngineStepMatchesFloat64Reference(bool tied, int threads)
    {
        var (p, xf) = Problem(tied, 5);
        var arch = Arch(tied);
        var r = ReferenceSae.From(arch, p);
        var xd = ToDouble(xf);
        var expected = Sum(r.Gradient(xd, N), ReferenceBaselines.L1Gradient(r, xd, N, Lambda));
        double expectedLoss = r.Loss(xd, N) + ReferenceBaselines.L1Penalty(r, xd, N, Lambda);

        using var step = new EngineStep(arch, p, xf, N, threads);
        step.Encode();
        double loss = step.Backpropagate();
        loss += new L1Penalty(p, step.Pool, Lambda).Add(step.Encoder.Xc, N, step.Code, step.Grad, Lambda);

        Assert.Equal(expectedLoss, loss, 1e-4 * (1 + expectedLoss));
        AssertGradient(expected, step.Grad, tied);
        for (int j = p.Dim; j < p.Stride; j++) Assert.Equal(0f, step.Grad.PreBias[j]);
    }

    [Fact]
    public void ZeroLambdaLeavesTheGradientAlone()
    {
        var (p, xf) = Problem(true, 8);
        using var step = new EngineStep(Arch(true), p, xf, N, 1);
        step.Encode();
        step.Grad.Data.Span.Fill(0.25f);
        Assert.Equal(0, new L1Penalty(p, step.Pool, 0).Add(step.Encoder.Xc, N, step.Code, step.Grad, 0));
        Assert.True(step.Grad.Data.Span.ToArray().All(v => v == 0.25f));
    }

    [Fact]
    public void LambdaWarmsUpLinearlyOverTheGivenFraction()
    {
        using var pool = new WorkerPool(1);
        var l1 = new L1Penalty(new SaeParameters(4, 4, true), pool, 2.0, warmup: 0.1);
        Assert.Equal(0.2, l1.LambdaAt(10, 1000), 12);
        Assert.Equal(1.0, l1.LambdaAt(50, 1000), 12);
        Assert.Equal(2.0, l1.LambdaAt(100, 1000), 12);
        Assert.Equal(2.0, l1.LambdaAt(1000, 1000), 12);
        Assert.Equal(2.0, new L1Penalty(new SaeParameters(4, 4, true), pool, 2.0).LambdaAt(1, 1000), 12);
    }
}
