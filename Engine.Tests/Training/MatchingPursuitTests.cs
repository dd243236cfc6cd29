using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Training;
using GbaEngine.Encoders;
using GbaEngine.Rng;
using static GbaEngine.Tests.Training.EncoderProblem;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training;

/// <summary>MP-SAE: the pursuit against a float64 reference, its invariants, its chain gradients and training.</summary>
[Trait("Category", "Kernels")]
public class MatchingPursuitTests
{
    const int D = 5, M = 7, N = 6;

    static SaeArchitecture Arch(int d, int m, int steps) => new(d, m, true, SaeActivation.Relu, SparsityMode.MatchingPursuit, steps);

    static SaeParameters RandomDictionary(int d, int m, ref Xoshiro256 rng, double preScale = 0.2)
    {
        var p = new SaeParameters(d, m, tied: true);
        for (int k = 0; k < m; k++)
        {
            var row = p.DecoderRow(k)[..d];
            for (int j = 0; j < d; j++) row[j] = (float)rng.NextGaussian();
            Blas1Reference.Scale(1f / MathF.Sqrt(Blas1Reference.Dot(row, row)), row);
        }
        p.Scale.Fill(1f);
        for (int j = 0; j < d; j++) p.PreBias[j] = (float)(preScale * rng.NextGaussian());
        return p;
    }

    /// <summary>A small problem whose pursuit has a clear winner at every step (best beats second by 1e-3 and is
    /// clearly positive or clearly absent), so float32 and float64 choose the same atoms.</summary>
    static (SaeParameters P, float[] X) Problem(int steps, ulong seed)
    {
        for (ulong attempt = 0; ; attempt++)
        {
            var rng = new Xoshiro256(seed * 1000 + attempt);
            var p = RandomDictionary(D, M, ref rng);
            var x = new float[N * D];
            for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextGaussian();
            var r = ReferenceMatchingPursuit.From(p);
            bool margin = true;
            for (int t = 0; t < N && margin; t++)
            {
                var res = Enumerable.Range(0, D).Select(j => (double)x[t * D + j] - r.Pre[j]).ToArray();
                for (int s = 0; s < steps && margin; s++)
                {
                    var corr = r.Correlations(res).OrderByDescending(v => v).ToArray();
                    margin = corr[0] - corr[1] > 1e-3 && Math.Abs(corr[0]) > 1e-3;
                    if (corr[0] < 0) break;
                    (_, _, res) = r.Encode(Enumerable.Range(0, D).Select(j => res[j] + r.Pre[j]).ToArray(), 1);
                }
            }
            if (margin) return (p, x);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void ReferenceGradientMatchesFiniteDifferences(int steps)
    {
        var (p, xf) = Problem(steps, 3);
        var r = ReferenceMatchingPursuit.From(p);
        var x = ToDouble(xf);
        var atoms = Enumerable.Range(0, N).Select(t => (IReadOnlyList<int>)r.Encode(x.AsSpan(t * D, D), steps).Atoms).ToArray();
        Assert.Contains(atoms, a => a.Count > 0);
        var (gDict, gPre) = r.Gradient(x, N, atoms);
        double F() => r.Loss(x, N, atoms);
        CheckFiniteDifferences(r.Dict, gDict, F, "D");
        CheckFiniteDifferences(r.Pre, gPre, F, "b_pre");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void EnginePursuitAndGradientsMatchTheFloat64Reference(int steps)
    {
        foreach (int threads in new[] { 1, 2 })
        {
            var (p, xf) = Problem(steps, 17);
            var r = ReferenceMatchingPursuit.From(p);
            var x = ToDouble(xf);
            var refs = Enumerable.Range(0, N).Select(t => r.Encode(x.AsSpan(t * D, D), steps)).ToArray();
            var atoms = refs.Select(e => (IReadOnlyList<int>)e.Atoms).ToArray();
            var (gDict, gPre) = r.Gradient(x, N, atoms);

            using var enc = new MatchingPursuitEncoder(Arch(D, M, steps), p, N, threads);
            var code = new SparseCode();
            enc.Encode(Padded(xf, N, p), N, code, new FiringStatistics(M));
            var back = new MatchingPursuitBackward(p, threads);
            var grad = p.CloneShape();
            back.Gradients(enc, N, grad);

            for (int t = 0; t < N; t++)
            {
                Assert.Equal(refs[t].Atoms.Count, enc.StepsTaken(t));
                for (int s = 0; s < refs[t].Atoms.Count; s++)
                {
                    var (atom, c) = enc.Trace(t, s);
                    Assert.Equal(refs[t].Atoms[s], atom);
                    Assert.Equal(refs[t].Coeffs[s], c, 1e-5);
                }
                for (int j = 0; j < D; j++) Assert.Equal(refs[t].Residual[j], enc.Residual.Span[t * p.Stride + j], 1e-5);
            }
            Assert.Equal(r.Loss(x, N, atoms), back.Loss(enc, N), 1e-5);
            for (int m = 0; m < M; m++)
            {
                for (int j = 0; j < D; j++) Near(gDict[m * D + j], grad.DecoderRow(m)[j], $"D[{m},{j}] ({threads} threads)");
                Assert.Equal(0f, grad.Scale[m]);
                Assert.Equal(0f, grad.Bias[m]);
            }
            for (int j = 0; j < D; j++) Near(gPre[j], grad.PreBias[j], $"b_pre[{j}] ({threads} threads)");
        }
    }

    /// <summary>A larger random batch (d = 48, M = 200, 37 tokens) pursued for up to T steps.</summary>
    static (SaeParameters P, AlignedArray X, float[] Raw) Batch(int rows = 37, int d = 48, int m = 200)
    {
        var rng = new Xoshiro256(99);
        var p = RandomDictionary(d, m, ref rng, preScale: 0.1);
        var raw = new float[rows * d];
        for (int i = 0; i < raw.Length; i++) raw[i] = (float)rng.NextGaussian();
        return (p, Padded(raw, rows, p), raw);
    }

    [Fact]
    public void ResidualIsOrthogonalToTheLastChosenAtomAndItsNormFallsByTheCoefficient()
    {
        var (p, x, _) = Batch();
        using var enc = new MatchingPursuitEncoder(Arch(p.Dim, p.Neurons, 8), p, 37, 2);
        var code = new SparseCode();
        foreach (int steps in new[] { 1, 2, 5, 8 })
        {
            enc.Steps = steps;
            enc.Encode(x, 37, code, null);
            for (int t = 0; t < 37; t++)
            {
                int taken = enc.StepsTaken(t);
                Assert.Equal(steps, taken);     // random Gaussian tokens always have a positively correlated atom
                var (atom, _) = enc.Trace(t, taken - 1);
                var r = enc.Residual.Span.Slice(t * p.Stride, p.Stride);
                float dot = Blas1Reference.Dot(p.DecoderRow(atom), r);
                Assert.True(MathF.Abs(dot) <= 1e-5f, $"token {t}, T = {steps}: D_j·r = {dot}");
            }
        }
        // ‖r_T‖² = ‖r_0‖² − Σ c_s² for unit atoms (each step removes exactly its projection).
        enc.Steps = 8;
        enc.Encode(x, 37, code, null);
        for (int t = 0; t < 37; t++)
        {
            double r0 = 0, rt = 0, c2 = 0;
            for (int j = 0; j < p.Dim; j++) { double v = x.Span[t * p.Stride + j] - p.PreBias[j]; r0 += v * v; }
            foreach (var v in enc.Residual.Span.Slice(t * p.Stride, p.Dim)) rt += v * v;
            for (int s = 0; s < 8; s++) c2 += Math.Pow(enc.Trace(t, s).Coefficient, 2);
            Assert.Equal(r0 - c2, rt, 1e-4 * r0);
        }
    }

    [Fact]
    public void ReconstructionErrorNeverIncreasesWithMoreSteps()
    {
        var (p, x, _) = Batch();
        using var enc = new MatchingPursuitEncoder(Arch(p.Dim, p.Neurons, 1), p, 37, 2);
        var code = new SparseCode();
        var previous = Enumerable.Repeat(double.PositiveInfinity, 37).ToArray();
        for (int steps = 1; steps <= 24; steps++)
        {
            enc.Steps = steps;
            enc.Encode(x, 37, code, null);
            for (int t = 0; t < 37; t++)
            {
                double e2 = 0;
                foreach (var v in enc.Residual.Span.Slice(t * p.Stride, p.Dim)) e2 += v * v;
                Assert.True(e2 <= previous[t] * (1 + 1e-6), $"token {t}: error {e2} after {steps} steps > {previous[t]} after {steps - 1}");
                previous[t] = e2;
            }
        }
    }

    [Fact]
    public void TheCodeDecodesToTheInputMinusTheResidualWithRepeatedAtomsMerged()
    {
        var (p, x, _) = Batch(rows: 20, d: 6, m: 9);    // d = 6 and T = 12: atoms must repeat
        using var enc = new MatchingPursuitEncoder(Arch(6, 9, 12), p, 20, 1);
        var code = new SparseCode();
        var stats = new FiringStatistics(9);
        enc.Encode(x, 20, code, stats);
        bool repeated = false;
        var xhat = new float[p.Stride];
        for (int t = 0; t < 20; t++)
        {
            var idx = code.Indices(t);
            for (int i = 1; i < idx.Length; i++) Assert.True(idx[i] > idx[i - 1], "indices ascending and unique");
            repeated |= idx.Length < enc.StepsTaken(t);
            Assert.All(code.Values(t).ToArray(), v => Assert.True(v > 0));
            SparseDecoder.Reconstruct(p, idx, code.Values(t), xhat);
            for (int j = 0; j < 6; j++)
                Assert.Equal(x.Span[t * p.Stride + j] - enc.Residual.Span[t * p.Stride + j], xhat[j], 1e-4);
        }
        Assert.True(repeated);
        Assert.Equal(20, stats.Tokens);
        Assert.Equal(code.Count, stats.FireCount.Sum());
    }

    [Fact]
    public void EarlyStopsOnAnExplainedTokenAndOnARepeatedAtom()
    {
        var rng = new Xoshiro256(5);
        var p = RandomDictionary(16, 40, ref rng, preScale: 0);
        // Token 0 is 1.5 × atom 7 exactly: one step explains it. Token 1 is random.
        var raw = new float[2 * 16];
        for (int j = 0; j < 16; j++) { raw[j] = 1.5f * p.DecoderRow(7)[j]; raw[16 + j] = (float)rng.NextGaussian(); }
        var x = Padded(raw, 2, p);
        using var enc = new MatchingPursuitEncoder(Arch(16, 40, 30), p, 2, 1) { ResidualThreshold = 1e-3f };
        var code = new SparseCode();
        enc.Encode(x, 2, code, null);
        Assert.Equal(1, enc.StepsTaken(0));
        Assert.Equal((7, 1.5f), (enc.Trace(0, 0).Atom, MathF.Round(enc.Trace(0, 0).Coefficient, 5)));
        Assert.Equal(30, enc.StepsTaken(1));

        enc.ResidualThreshold = 0;
        enc.StopOnRepeat = true;
        enc.Encode(x, 2, code, null);
        var chosen = Enumerable.Range(0, enc.StepsTaken(1)).Select(s => enc.Trace(1, s).Atom).ToArray();
        Assert.Equal(chosen.Length, chosen.Distinct().Count());
        Assert.True(chosen.Length < 30, "30 steps over 40 atoms in d = 16 must revisit an atom");
    }

    [Fact]
    public void UntiedOrZeroStepsAreRejected()
    {
        Assert.Contains("tied", Assert.Throws<ArgumentException>(() => new SaeArchitecture(8, 16, false, SaeActivation.Relu, SparsityMode.MatchingPursuit, 3).Validate()).Message);
        Assert.Throws<ArgumentException>(() => new SaeArchitecture(8, 16, true, SaeActivation.Relu, SparsityMode.MatchingPursuit, 0).Validate());
        Assert.Contains("TrainerOptions.Tied", Assert.Throws<ArgumentException>(() => new TrainerOptions { Method = TrainingMethod.Mp, Tied = false }.Validate()).Message);
    }

    [Fact]
    public void TrainingRecoversFeaturesKeepsAFixedAndIsDeterministic()
    {
        var spec = new SyntheticSpec(Features: 64, Dim: 32, Sparsity: 2);
        var model = new SyntheticModel(spec, 1);
        var eval = EvaluationSet.FromStream(model.OpenStream(2), 2048, model.Features, model.Frequencies);
        var o = new TrainerOptions { Method = TrainingMethod.Mp, MpSteps = 2, Neurons = 192, BatchSize = 128, Tokens = 128L * 600,
            LearningRate = 3e-3, WeightDecay = 0.01, Threads = 2, InitTokens = 1024, EvalEvery = 0 };
        TrainingResult Train()
        {
            using var trainer = new SaeTrainer(o, spec.Dim);
            return trainer.Train(model.OpenStream(1), eval);
        }
        var a = Train();
        Assert.True(a.Final.Frr08 >= 0.9, $"FRR@0.8 = {a.Final.Frr08}");
        Assert.InRange(a.Final.L0, 1.5, 2.0);
        var p = a.Model.Parameters;
        Assert.All(p.Scale.ToArray(), v => Assert.Equal(1f, v));    // a is not a parameter of MP, even with weight decay
        Assert.All(p.Bias.ToArray(), v => Assert.Equal(0f, v));
        var b = Train();
        Assert.True(a.Model.Parameters.Data.Span.SequenceEqual(b.Model.Parameters.Data.Span));

        // Inference-time T: the same dictionary with more steps explains more (FVU is monotone per token).
        double last = double.PositiveInfinity;
        foreach (int t in new[] { 1, 2, 4, 8 })
        {
            var m = Evaluator.Evaluate(MatchingPursuitEncoder.WithSteps(a.Model, t), eval, null, 2);
            Assert.True(m.Fvu <= last * (1 + 1e-6), $"FVU {m.Fvu} at T = {t} > {last}");
            Assert.True(m.L0 <= t);
            last = m.Fvu;
        }
    }
}
