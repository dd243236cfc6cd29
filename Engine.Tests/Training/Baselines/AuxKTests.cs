using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Training;
using GbaEngine.Training.Baselines;
using static GbaEngine.Tests.Training.Baselines.BaselineProblem;
using static GbaEngine.Tests.Training.EncoderProblem;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>
/// AuxK: the float64 reference against finite differences; the fused encoder's dead-latent selection
/// against the dense selection over every B×M value (same float32 y, same tie rule) for the TopK and
/// the threshold (BatchTopK) encoders and any thread count; the engine's loss and gradients (main +
/// AuxK) against the float64 reference; and the trainer's use of it.
/// </summary>
public class AuxKTests
{
    const int D = 6, M = 11, N = 7, K = 2, KAux = 3;
    const double Alpha = 1.0 / 32;
    static readonly bool[] DeadMask = [true, false, true, true, false, true, false, true, true, false, true];   // 7 dead
    static int DeadCount => DeadMask.Count(v => v);

    static SaeArchitecture Arch(bool tied) => new(D, M, tied, SaeActivation.Relu, SparsityMode.TopK, K);

    /// <summary>Margins from 0, between the main k-th and next value, and between the dead latents' k_aux-th and next
    /// positive value, so both selections survive a 1e-6 perturbation.</summary>
    static (SaeParameters, float[]) Problem(bool tied, ulong seed) =>
        Draw(Arch(tied), N, seed, y =>
        {
            if (!y.All(v => Math.Abs(v) > 1e-3)) return false;
            for (int t = 0; t < N; t++)
            {
                var row = y.Skip(t * M).Take(M).ToArray();
                var all = row.OrderByDescending(v => v).ToArray();
                var dead = row.Where((_, m) => DeadMask[m]).Where(v => v > 0).OrderByDescending(v => v).ToArray();
                if (all[K - 1] - all[K] < 1e-3 || all[K - 1] <= 0) return false;
                if (dead.Length < KAux || (dead.Length > KAux && dead[KAux - 1] - dead[KAux] < 1e-3)) return false;
            }
            return true;
        });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReferenceGradientMatchesFiniteDifferences(bool tied)
    {
        var (p, xf) = Problem(tied, 3);
        var r = ReferenceSae.From(Arch(tied), p);
        var x = ToDouble(xf);
        var (_, y) = r.PreActivations(x, N);
        var e = ReferenceAuxK.Residual(r, x, N, r.Active(y, N));           // detached: fixed at the unperturbed point
        var sel = ReferenceAuxK.Selection(y, N, M, DeadMask, KAux);
        var g = ReferenceAuxK.Gradient(r, x, N, sel, e, DeadCount, KAux, Alpha);
        double F() => ReferenceAuxK.Loss(r, x, N, sel, e, DeadCount, KAux, Alpha);
        CheckEveryParameter(r, g, F, tied);
        Assert.Contains(g.B, v => Math.Abs(v) > 1e-6);
    }

    static DeadLatents Dead(bool[] mask, long window = 100)
    {
        var dead = new DeadLatents(mask.Length, window);
        dead.Restore(mask.Select(v => v ? window + 1 : window).ToArray(), "test");
        return dead;
    }

    /// <summary>AuxK on the step's pool with the given latents dead, and the step's encoder selecting k_aux of them.</summary>
    static AuxKLoss Aux(EngineStep step, SaeArchitecture arch, SaeParameters p, bool[] deadMask, int kAux)
    {
        var aux = new AuxKLoss(arch, p, step.Rows, step.Pool, Dead(deadMask), kAux, Alpha, KernelSelector.Current);
        step.Encoder.EnableDeadSelection(Math.Min(kAux, p.Neurons));
        aux.Prepare(step.Encoder);
        return aux;
    }

    [Theory]
    [InlineData(true, 1, KAux)]
    [InlineData(false, 1, KAux)]
    [InlineData(true, 2, KAux)]
    [InlineData(false, 3, KAux)]
    [InlineData(true, 2, 20)]      // k_aux above the dead count: all 7 take part, at full scale
    public void EngineStepMatchesFloat64Reference(bool tied, int threads, int kAux)
    {
        var (p, xf) = Problem(tied, 5);
        var arch = Arch(tied);
        var r = ReferenceSae.From(arch, p);
        var xd = ToDouble(xf);
        var (_, y) = r.PreActivations(xd, N);
        var active = r.Active(y, N);
        var e = ReferenceAuxK.Residual(r, xd, N, active);
        int kUsed = Math.Min(kAux, DeadCount);
        var sel = ReferenceAuxK.Selection(y, N, M, DeadMask, kUsed);
        var expected = Sum(r.Gradient(xd, N), ReferenceAuxK.Gradient(r, xd, N, sel, e, DeadCount, kAux, Alpha));
        double expectedAux = ReferenceAuxK.Loss(r, xd, N, sel, e, DeadCount, kAux, Alpha);

        using var step = new EngineStep(arch, p, xf, N, threads);
        var aux = Aux(step, arch, p, DeadMask, kAux);
        step.Encode();
        step.Backpropagate();
        double auxLoss = aux.Add(step.Encoder.Xc, step.Backward.Error, N, step.Grad);

        Assert.Equal(DeadCount, aux.DeadCount);
        for (int t = 0; t < N; t++)
            Assert.Equal(Enumerable.Range(0, M).Where(m => sel[t * M + m]).ToArray(), aux.Code.Indices(t).ToArray());
        Assert.Equal(expectedAux, auxLoss, 1e-5 * (1 + expectedAux));
        AssertGradient(expected, step.Grad, tied);
        for (int j = p.Dim; j < p.Stride; j++) Assert.Equal(0f, step.Grad.PreBias[j]);
    }

    [Fact]
    public void NoDeadLatentsIsNoLossAndNoGradient()
    {
        var (p, xf) = Problem(true, 8);
        using var step = new EngineStep(Arch(true), p, xf, N, 1);
        var aux = Aux(step, Arch(true), p, new bool[M], KAux);
        step.Encode();
        step.Decode();
        step.Grad.Data.Span.Fill(0.25f);
        Assert.Equal(0, aux.Add(step.Encoder.Xc, step.Backward.Error, N, step.Grad));
        Assert.Equal(0, aux.Code.Count);
        Assert.True(step.Grad.Data.Span.ToArray().All(v => v == 0.25f));
    }

    public record Case(int Rows, int Dim, int Neurons, bool Tied, int K, int KAux, bool Quantized, int Threads, bool Threshold, int DeadEvery, ulong Seed);

    static Gen<Case> Cases =>
        from rows in Gen.OneOf(Gen.Choose(1, 20), Gen.Choose(60, 200))
        from dim in Gen.OneOf(Gen.Choose(1, 12), Gen.Choose(30, 70))
        from neurons in Gen.OneOf(Gen.Choose(1, 40), Gen.Choose(100, 700))
        from tied in Gen.Elements(true, false)
        from k in Gen.Choose(1, 6)
        from kAux in Gen.Choose(1, 12)
        from quantized in Gen.Elements(true, false)
        from threads in Gen.Choose(1, 3)
        from threshold in Gen.Elements(true, false)
        from deadEvery in Gen.Choose(1, 5)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(rows, dim, neurons, tied, k, kAux, quantized, threads, threshold, deadEvery, (ulong)seed);

    [Fact]
    public void FusedSelectionEqualsTheDenseSelection() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            int k = Math.Min(c.K, c.Neurons);
            var arch = c.Threshold ? new SaeArchitecture(c.Dim, c.Neurons, c.Tied, SaeActivation.Relu)
                : new SaeArchitecture(c.Dim, c.Neurons, c.Tied, SaeActivation.Relu, SparsityMode.TopK, k);
            var (p, xf) = EncoderProblem.Random(c.Rows, c.Dim, c.Neurons, c.Tied, c.Quantized, c.Seed, BiasDraw.Gaussian, drawPreBias: false);
            var mask = Enumerable.Range(0, c.Neurons).Select(m => (m + (int)(c.Seed % 7)) % c.DeadEvery == 0).ToArray();
            int deadCount = mask.Count(v => v);

            using var step = new EngineStep(arch, p, xf, c.Rows, c.Threads);
            var aux = Aux(step, arch, p, mask, c.KAux);
            if (c.Threshold) new BatchTopKSelection(p, k, 0.9).Select(step.Encoder, step.X, c.Rows, step.Code);   // candidate passes with a moved threshold
            else step.Encode();

            var z = DenseZ(p, step.X, c.Rows);
            int kUsed = Math.Min(c.KAux, deadCount);
            for (int t = 0; t < c.Rows; t++)
            {
                var expected = Enumerable.Range(0, c.Neurons).Where(m => mask[m] && z[t * c.Neurons + m] + p.Bias[m] > 0)
                    .OrderByDescending(m => z[t * c.Neurons + m] + p.Bias[m]).ThenBy(m => m).Take(kUsed).Order().ToArray();
                Assert.Equal(expected, aux.Code.Indices(t).ToArray());
                Assert.Equal(expected.Select(m => z[t * c.Neurons + m] + p.Bias[m]).ToArray(), aux.Code.Values(t).ToArray());
            }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(80));

    [Fact]
    public void DeadCountersFollowTheCodeAndTheWindow()
    {
        var dead = new DeadLatents(4, window: 10);
        var code = new SparseCode();
        code.Reset(2);
        code.EnsureCapacity(2);
        code.RowStart[0] = 0; code.RowStart[1] = 1; code.RowStart[2] = 2;
        code.Index[0] = 1; code.Index[1] = 3;
        dead.Update(code, 6);
        Assert.Equal(new long[] { 6, 0, 6, 0 }, dead.TokensSinceFired.ToArray());
        dead.Refresh();
        Assert.Equal(0, dead.DeadCount);
        code.RowStart[1] = 1; code.RowStart[2] = 1;    // only neuron 1 fires now
        dead.Update(code, 6);
        dead.Refresh();
        Assert.Equal(new[] { 0, 2 }, dead.Dead.ToArray());   // 12 > 10 tokens without firing; neuron 3 has 6
        Assert.Throws<InvalidDataException>(() => dead.Restore(new long[3], "ckpt"));
        Assert.Throws<InvalidDataException>(() => dead.Restore(new long[] { 0, -1, 0, 0 }, "ckpt"));
    }

    static TrainerOptions Options(TrainingMethod method) => new()
    {
        Method = method, Neurons = 96, K = 3, BatchSize = 64, Tokens = 64 * 40, Threads = 1, InitTokens = 256, EvalEvery = 0, Seed = 4,
        DeadTokens = 128,
    };

    [Theory]
    [InlineData(TrainingMethod.TopK)]
    [InlineData(TrainingMethod.BatchTopK)]
    public void TrainerAddsTheAuxiliaryLossByDefaultAndAuxKZeroTurnsItOff(TrainingMethod method)
    {
        var spec = new SyntheticSpec(Features: 48, Dim: 16, Sparsity: 2);
        var o = Options(method);
        Assert.True(o.UsesAuxK);
        Assert.Equal(8, o.ResolvedAuxK(spec.Dim));
        using var on = new SaeTrainer(o, spec.Dim);
        using var off = new SaeTrainer(o with { AuxK = 0 }, spec.Dim);
        Assert.NotNull(on.AuxK);
        Assert.Null(off.AuxK);
        Assert.Null(off.DeadLatents);
        var model = new SyntheticModel(spec, 2);
        using var s1 = model.OpenStream(1);
        using var s2 = model.OpenStream(1);
        on.Initialize(s1);
        off.Initialize(s2);
        bool sawAux = false;
        for (int i = 0; i < 40; i++)
        {
            double a = on.TrainStep(s1).Loss, b = off.TrainStep(s2).Loss;
            if (on.AuxK!.DeadCount > 0) sawAux |= on.AuxK.Code.Count > 0;
            else if (!sawAux)
            {
                // Nothing dead yet: the same run bit for bit.
                Assert.Equal(BitConverter.DoubleToInt64Bits(b), BitConverter.DoubleToInt64Bits(a));
                Assert.Equal(0, on.AuxK.Code.Count);
            }
        }
        Assert.True(sawAux, "no step had a dead latent with a positive pre-activation");
        Assert.False(on.Model.Parameters.Data.Span.SequenceEqual(off.Model.Parameters.Data.Span));
    }

    [Fact]
    public void AuxKSettingsAreValidated()
    {
        var o = Options(TrainingMethod.TopK);
        Assert.Contains("--aux-k must be non-negative", Assert.Throws<ArgumentException>(() => (o with { AuxK = -1 }).Validate()).Message);
        Assert.Contains("--aux-k applies to", Assert.Throws<ArgumentException>(() => (o with { Method = TrainingMethod.L1, AuxK = 4 }).Validate()).Message);
        Assert.Contains("exceeds --d-sae", Assert.Throws<ArgumentException>(() => (o with { AuxK = 97 }).Validate()).Message);
        Assert.Contains("--dead-tokens", Assert.Throws<ArgumentException>(() => (o with { DeadTokens = 0 }).Validate()).Message);
        Assert.Contains("--aux-k-coefficient", Assert.Throws<ArgumentException>(() => (o with { AuxKCoefficient = double.NaN }).Validate()).Message);
        (o with { Method = TrainingMethod.Gba, AuxK = 0 }).Validate();   // 0 (off) is accepted for any method
        Assert.False((o with { Method = TrainingMethod.Gba }).UsesAuxK);
        // The dead window: the paper's 10M tokens, at most a tenth of the budget.
        Assert.Equal(256, (o with { DeadTokens = null }).ResolvedDeadTokens);
        Assert.Equal(10_000_000, (o with { DeadTokens = null, Tokens = 1_000_000_000 }).ResolvedDeadTokens);
    }
}
