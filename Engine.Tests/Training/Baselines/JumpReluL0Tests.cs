using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Training.Baselines;
using GbaEngine.Encoders;
using static GbaEngine.Tests.Training.Baselines.BaselineProblem;
using static GbaEngine.Tests.Training.EncoderProblem;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>
/// JumpReLU-L0: the threshold's straight-through pseudo-gradient from the sparse window against its
/// dense float64 definition (and, for the L0 part, against finite differences of the ramp it is the
/// exact derivative of); every other gradient is JumpReLU's own; the window the encoder emits holds
/// every entry within ε/2 of the threshold and the active code is the plain encoder's.
/// </summary>
[Trait("Category", "Kernels")]
public class JumpReluL0Tests
{
    const int D = 5, M = 7, N = 6;
    const double Eps = 0.6, Lambda = 0.05;

    static SaeArchitecture Arch(bool tied) => new(D, M, tied, SaeActivation.JumpRelu);

    /// <summary>y keeps a margin from 0 and from the window edges ±ε/2, and some y fall inside the window.</summary>
    static (SaeParameters, float[]) Problem(bool tied, ulong seed) =>
        Draw(Arch(tied), N, seed, y =>
            y.All(v => Math.Abs(v) > 1e-3 && Math.Abs(Math.Abs(v) - Eps / 2) > 1e-3)
            && y.Count(v => Math.Abs(v) < Eps / 2 && v < 0) >= 3 && y.Count(v => v > 0 && v < Eps / 2) >= 3);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void L0PseudoGradientIsTheDerivativeOfTheRampedL0(bool tied)
    {
        var (p, xf) = Problem(tied, 1);
        var r = ReferenceSae.From(Arch(tied), p);
        var x = ToDouble(xf);
        var withL0 = ReferenceBaselines.JumpReluL0BiasGradient(r, x, N, 1.0, Eps);
        var without = ReferenceBaselines.JumpReluL0BiasGradient(r, x, N, 0.0, Eps);
        var l0Part = withL0.Zip(without, (a, b) => a - b).ToArray();
        Assert.Contains(l0Part, v => v != 0);
        CheckFiniteDifferences(r.B, l0Part, () => ReferenceBaselines.RampL0(r, x, N, Eps), "b (L0 part)");
    }

    [Fact]
    public void ReconstructionPseudoGradientIsMinusThetaTimesTheUpstreamGradientOverEpsilon()
    {
        // One token, one neuron with z just below θ: by the definition, ∂L/∂b = (θ/ε)·a·(x̂ − x)·w.
        var r = new ReferenceSae(2, 1, true, SaeActivation.JumpRelu);
        r.Dec[0] = 1; r.Dec[1] = 0; r.A[0] = 2; r.B[0] = -0.5;
        double[] x = [0.45, 0.3];                       // z = 0.45, θ = 0.5: inactive, inside ε = 0.2's window
        var g = ReferenceBaselines.JumpReluL0BiasGradient(r, x, 1, 0.0, 0.2);
        Assert.Equal(0.5 / 0.2 * 2 * (0 - 0.45), g[0], 12);   // x̂ = b_pre = 0, so (x̂ − x)·w = −0.45
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 3)]
    public void EngineStepMatchesFloat64Reference(bool tied, int threads)
    {
        var (p, xf) = Problem(tied, 6);
        var arch = Arch(tied);
        var r = ReferenceSae.From(arch, p);
        var xd = ToDouble(xf);
        var expected = r.Gradient(xd, N);
        expected.B = ReferenceBaselines.JumpReluL0BiasGradient(r, xd, N, Lambda, Eps);
        double expectedLoss = r.Loss(xd, N) + Lambda * ReferenceBaselines.L0(r, xd, N);

        using var step = new EngineStep(arch, p, xf, N, threads);
        var l0 = new JumpReluL0(p, Lambda, Eps, 0);
        l0.Encode(step.Encoder, step.X, N, step.Code);
        double loss = step.Backpropagate();
        loss += l0.Add(step.Backward.Error, N, step.Code, step.Grad);

        Assert.Equal(expectedLoss, loss, 1e-4 * (1 + expectedLoss));
        Assert.Contains(expected.B, v => v != 0);
        AssertGradient(expected, step.Grad, tied);
    }

    public record Case(int Rows, int Dim, int Neurons, bool Tied, double Eps, int Threads, ulong Seed);

    static Gen<Case> Cases =>
        from rows in Gen.OneOf(Gen.Choose(1, 20), Gen.Choose(100, 250))
        from dim in Gen.OneOf(Gen.Choose(1, 10), Gen.Choose(30, 80))
        from neurons in Gen.OneOf(Gen.Choose(1, 30), Gen.Choose(100, 300))
        from tied in Gen.Elements(true, false)
        from eps in Gen.Elements(1e-3, 0.01, 0.1, 0.5)
        from threads in Gen.Choose(1, 3)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(rows, dim, neurons, tied, eps, threads, (ulong)seed);

    [Fact]
    public void WindowHoldsEveryEntryNearTheThresholdAndTheActiveCodeIsThePlainEncoders() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var arch = new SaeArchitecture(c.Dim, c.Neurons, c.Tied, SaeActivation.JumpRelu);
            var (p, xf) = EncoderProblem.Random(c.Rows, c.Dim, c.Neurons, c.Tied, quantized: false, c.Seed,
                BiasDraw.BelowSqrtDim, drawPreBias: false, inputScale: 0.3);
            var x = Padded(xf, c.Rows, p);

            using var enc = new BatchEncoder(arch, p, c.Rows, c.Threads);
            var step = new JumpReluL0(p, 0.1, c.Eps, 0);
            var code = new SparseCode();
            step.Encode(enc, x, c.Rows, code);
            var plain = new SparseCode();
            enc.Encode(x, c.Rows, plain, null);
            Assert.Equal(plain.RowStart.AsSpan(0, c.Rows + 1).ToArray(), code.RowStart.AsSpan(0, c.Rows + 1).ToArray());
            Assert.Equal(plain.Index.AsSpan(0, plain.Count).ToArray(), code.Index.AsSpan(0, code.Count).ToArray());
            Assert.True(Kernels.KernelTestData.SameBits(plain.H.AsSpan(0, plain.Count), code.H.AsSpan(0, code.Count)));

            var z = DenseZ(p, x, c.Rows);
            float half = 0.5f * (float)c.Eps;
            var expected = new List<(int, int)>();
            for (int t = 0; t < c.Rows; t++)
                for (int m = 0; m < c.Neurons; m++)
                {
                    float y = z[t * c.Neurons + m] + p.Bias[m];
                    if (y > -half && y < half) expected.Add((t, m));
                }
            Assert.Equal(expected, step.Window().ToList());
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(60));

    [Fact]
    public void ThresholdStaysNonNegative()
    {
        var p = new SaeParameters(3, 4, true);
        p.Bias[0] = 0.2f; p.Bias[1] = -0.3f; p.Bias[2] = 0f; p.Bias[3] = 1e-9f;
        new JumpReluL0(p, 0.1, 1e-3, 0).Project(p);
        Assert.Equal(new[] { 0f, -0.3f, 0f, 0f }, p.Bias.ToArray());
    }
}
