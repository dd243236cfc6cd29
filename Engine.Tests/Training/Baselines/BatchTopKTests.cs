using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Reference;
using GbaEngine.Training.Baselines;
using GbaEngine.Encoders;
using GbaEngine.Rng;
using static GbaEngine.Tests.Training.Baselines.BaselineProblem;
using static GbaEngine.Tests.Training.EncoderProblem;
using static GbaEngine.Tests.Training.GradientChecks;

namespace GbaEngine.Tests.Training.Baselines;

/// <summary>
/// BatchTopK: the candidate-threshold selection equals the dense selection over all B×M values (same
/// float32 y, same tie rule) whatever the provisional threshold, keeps exactly k·B entries, and its
/// gradients and the inference threshold match the float64 reference.
/// </summary>
[Trait("Category", "Kernels")]
public class BatchTopKTests
{
    public record Case(int Rows, int Dim, int Neurons, bool Tied, int K, bool Quantized, int Threads, int Rescale, ulong Seed);

    static Gen<Case> Cases =>
        from rows in Gen.OneOf(Gen.Choose(1, 30), Gen.Choose(100, 300))
        from dim in Gen.OneOf(Gen.Choose(1, 12), Gen.Choose(40, 90))
        from neurons in Gen.OneOf(Gen.Choose(1, 30), Gen.Choose(100, 400))
        from tied in Gen.Elements(true, false)
        from k in Gen.Choose(1, 8)
        from quantized in Gen.Elements(true, false)
        from threads in Gen.Choose(1, 3)
        from rescale in Gen.Choose(0, 2)
        from seed in Gen.Choose(0, int.MaxValue)
        select new Case(rows, dim, neurons, tied, k, quantized, threads, rescale, (ulong)seed);

    /// <summary>Random SAE and batch; quantised values make many y exactly equal (ties across tokens and lanes).</summary>
    static (SaeArchitecture, SaeParameters, float[]) Random(Case c)
    {
        var (p, x) = EncoderProblem.Random(c.Rows, c.Dim, c.Neurons, c.Tied, c.Quantized, c.Seed, BiasDraw.Gaussian, drawPreBias: true);
        return (new SaeArchitecture(c.Dim, c.Neurons, c.Tied, SaeActivation.Relu), p, x);
    }

    /// <summary>The dense selection: y = z + b over the whole batch, the k·n largest positive ones, ties to (token, neuron).</summary>
    static (int[] RowStart, int[] Index, float[] H) Dense(SaeParameters p, AlignedArray x, int n, int k)
    {
        int m = p.Neurons;
        var z = DenseZ(p, x, n);
        var y = new float[n * m];
        for (int t = 0; t < n; t++)
            for (int j = 0; j < m; j++) y[t * m + j] = z[t * m + j] + p.Bias[j];
        var keep = Enumerable.Range(0, n * m).Where(i => y[i] > 0).OrderByDescending(i => y[i]).ThenBy(i => i).Take(k * n).ToHashSet();
        var rowStart = new int[n + 1];
        var index = new List<int>();
        var h = new List<float>();
        for (int t = 0; t < n; t++)
        {
            for (int j = 0; j < m; j++)
                if (keep.Contains(t * m + j)) { index.Add(j); h.Add(y[t * m + j]); }
            rowStart[t + 1] = index.Count;
        }
        return (rowStart, index.ToArray(), h.ToArray());
    }

    static void AssertSameCode((int[] RowStart, int[] Index, float[] H) expected, SparseCode code, int rows, string what)
    {
        Assert.Equal(expected.RowStart, code.RowStart.AsSpan(0, rows + 1).ToArray());
        Assert.Equal(expected.Index, code.Index.AsSpan(0, code.Count).ToArray());
        Assert.True(Kernels.KernelTestData.SameBits(expected.H, code.H.AsSpan(0, code.Count)), $"h differs ({what})");
    }

    [Fact]
    public void SelectionEqualsTheDenseBatchSelection() =>
        Prop.ForAll(Cases.ToArbitrary(), c =>
        {
            var (arch, p, xf) = Random(c);
            using var enc = new BatchEncoder(arch, p, c.Rows, c.Threads);
            var sel = new BatchTopKSelection(p, Math.Min(c.K, c.Neurons), 0.9);
            var code = new SparseCode();
            var x = Padded(xf, c.Rows, p);
            sel.Select(enc, x, c.Rows, code);
            var dense = Dense(p, x, c.Rows, sel.K);
            AssertSameCode(dense, code, c.Rows, "first batch");
            Assert.Equal(dense.Index.Length, code.Count);

            // A second batch at another scale: the provisional threshold from the first is now far too
            // low (more candidates) or too high (re-encoding); the result must not depend on it.
            float factor = c.Rescale switch { 0 => 1f, 1 => 4f, _ => 0.25f };
            var x2 = Padded(xf.Select(v => v * factor).ToArray(), c.Rows, p);
            sel.Select(enc, x2, c.Rows, code);
            AssertSameCode(Dense(p, x2, c.Rows, sel.K), code, c.Rows, $"second batch ×{factor}");
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(80));

    [Fact]
    public void KeepsExactlyKTimesBWithTiesToEarlierTokensThenLowerNeurons()
    {
        // Every encoder row and every token the same: all B×M values are equal and positive.
        const int d = 4, m = 10, rows = 6, k = 3;
        var arch = new SaeArchitecture(d, m, true, SaeActivation.Relu);
        var p = new SaeParameters(d, m, true);
        for (int n = 0; n < m; n++) { p.DecoderRow(n)[0] = 1f; p.Scale[n] = 1f; }
        var x = Padded(Enumerable.Repeat(0.5f, rows * d).ToArray(), rows, p);
        using var enc = new BatchEncoder(arch, p, rows, 2);
        var sel = new BatchTopKSelection(p, k, 0.9);
        var code = new SparseCode();
        sel.Select(enc, x, rows, code);
        Assert.Equal(k * rows, code.Count);
        // 18 kept in (token, neuron) order: tokens 0 and 1 whole, token 2 none... i.e. the first 18 of 60.
        Assert.Equal(new[] { 0, 10, 18, 18, 18, 18, 18 }, code.RowStart.AsSpan(0, rows + 1).ToArray());
        Assert.Equal(Enumerable.Range(0, 10).Concat(Enumerable.Range(0, 8)).ToArray(), code.Index.AsSpan(0, code.Count).ToArray());
        Assert.Equal(0.5f, sel.Threshold);
    }

    [Fact]
    public void FewerPositiveValuesThanKTimesBAreAllKept()
    {
        const int d = 3, m = 5, rows = 4;
        var arch = new SaeArchitecture(d, m, true, SaeActivation.Relu);
        var p = new SaeParameters(d, m, true);
        p.DecoderRow(2)[0] = 1f;                       // only neuron 2 ever sees a positive value
        p.Scale.Fill(1f);
        var xf = new float[rows * d];
        xf[0 * d] = 0.7f; xf[2 * d] = 0.2f;            // tokens 0 and 2
        using var enc = new BatchEncoder(arch, p, rows, 1);
        var sel = new BatchTopKSelection(p, 2, 0.5);
        var code = new SparseCode();
        sel.Select(enc, Padded(xf, rows, p), rows, code);
        Assert.Equal(2, code.Count);
        Assert.Equal(new[] { 0, 1, 1, 2, 2 }, code.RowStart.AsSpan(0, rows + 1).ToArray());
        Assert.True(sel.Passes > 1, "1.0 is above every value, so the threshold had to come down to 0");
        Assert.Equal(0.2f, sel.Threshold);
    }

    [Fact]
    public void ThresholdIsTheRunningAverageOfTheSmallestKeptValue()
    {
        const int d = 2, m = 3, rows = 2;
        var arch = new SaeArchitecture(d, m, true, SaeActivation.Relu);
        var p = new SaeParameters(d, m, true);
        p.DecoderRow(0)[0] = 1f; p.DecoderRow(1)[0] = 0.5f; p.DecoderRow(2)[1] = 1f;
        p.Scale.Fill(1f);
        using var enc = new BatchEncoder(arch, p, rows, 1);
        var sel = new BatchTopKSelection(p, 1, 0.75);
        var code = new SparseCode();
        // y per token: (x0, x0/2, x1); keep 2 of 6.
        sel.Select(enc, Padded([0.8f, 0.1f, 0.6f, 0.3f], rows, p), rows, code);   // kept 0.8, 0.6
        Assert.Equal(0.6f, sel.Threshold);
        sel.Select(enc, Padded([0.7f, 0.1f, 0.5f, 0.1f], rows, p), rows, code);   // kept 0.7, 0.5; 0.8·0.6 is low enough
        Assert.Equal(0.75 * 0.6 + 0.25 * 0.5, sel.Threshold, 6);
        Assert.Equal(1, sel.Passes);
        sel.Select(enc, Padded([0.3f, 0.1f, 0.3f, 0.1f], rows, p), rows, code);   // kept 0.3, 0.3: below the provisional 0.8·min(0.575, 0.5)
        Assert.Equal(2, sel.Passes);
        Assert.Equal(new[] { 0, 0 }, code.Index.AsSpan(0, 2).ToArray());
    }

    [Fact]
    public void RadixSelectionFindsTheKthLargest() =>
        Prop.ForAll(Gen.Choose(1, 2000).SelectMany(n => Gen.Choose(1, n).SelectMany(k => Gen.Choose(0, int.MaxValue).Select(s => (n, k, s)))).ToArbitrary(), c =>
        {
            var rng = new Xoshiro256((ulong)c.s);
            // Few distinct values (many ties) or a wide range of magnitudes.
            var v = Enumerable.Range(0, c.n).Select(_ => c.s % 2 == 0 ? 0.25f * (1 + rng.NextInt(6)) : (float)Math.Exp(8 * rng.NextGaussian())).ToArray();
            var sel = new BatchTopKSelection(new SaeParameters(1, 1, true), 1, 0.5);
            Assert.Equal(v.OrderByDescending(x => x).ElementAt(c.k - 1), sel.KthLargest(v, c.k));
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));

    const int D = 5, M = 7, N = 6, K = 2;

    /// <summary>y margins from 0 and between the k·N-th and next value: the selection survives perturbation.</summary>
    static (SaeParameters, float[]) MarginProblem(bool tied, ulong seed) =>
        Draw(new SaeArchitecture(D, M, tied, SaeActivation.Relu), N, seed, y =>
        {
            if (!y.All(v => Math.Abs(v) > 1e-3)) return false;
            var sorted = y.Where(v => v > 0).OrderByDescending(v => v).ToArray();
            return sorted.Length > K * N && sorted[K * N - 1] - sorted[K * N] > 1e-3;
        }, biasScale: 0.2);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ReferenceGradientMatchesFiniteDifferencesThroughTheSelection(bool tied)
    {
        var (p, xf) = MarginProblem(tied, 2);
        var r = ReferenceSae.From(new SaeArchitecture(D, M, tied, SaeActivation.Relu), p);
        var x = ToDouble(xf);
        bool[] Selected() => ReferenceBaselines.BatchTopKActive(r.PreActivations(x, N).Y, N, M, K);
        var g = r.Gradient(x, N, Selected());
        double F() => r.Loss(x, N, Selected());   // the selection is recomputed at every perturbed point
        CheckEveryParameter(r, g, F, tied);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    public void EngineStepMatchesFloat64Reference(bool tied, int threads)
    {
        var (p, xf) = MarginProblem(tied, 4);
        var arch = new SaeArchitecture(D, M, tied, SaeActivation.Relu);
        var r = ReferenceSae.From(arch, p);
        var xd = ToDouble(xf);
        var active = ReferenceBaselines.BatchTopKActive(r.PreActivations(xd, N).Y, N, M, K);

        using var step = new EngineStep(arch, p, xf, N, threads);
        new BatchTopKSelection(p, K, 0.9).Select(step.Encoder, step.X, N, step.Code);
        Assert.Equal(K * N, step.Code.Count);
        for (int t = 0; t < N; t++)
            Assert.Equal(Enumerable.Range(0, M).Where(m => active[t * M + m]).ToArray(), step.Code.Indices(t).ToArray());
        double loss = step.Backpropagate();
        double expectedLoss = r.Loss(xd, N, active);
        Assert.Equal(expectedLoss, loss, 1e-4 * (1 + expectedLoss));
        AssertGradient(r.Gradient(xd, N, active), step.Grad, tied);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void InferenceFiresAboveTheThresholdWithTheReluValue(int threads)
    {
        var c = new Case(200, 20, 150, false, 4, false, threads, 0, 17);
        var (arch, p, xf) = Random(c);
        const float theta = 0.35f;
        var x = Padded(xf, c.Rows, p);
        using var enc = new BatchEncoder(arch with { ReluThreshold = theta }, p, c.Rows, threads);
        var code = new SparseCode();
        var stats = new FiringStatistics(c.Neurons);
        enc.Encode(x, c.Rows, code, stats);

        var z = DenseZ(p, x, c.Rows);
        var fires = new long[c.Neurons];
        for (int t = 0; t < c.Rows; t++)
        {
            var expected = new List<(int, float)>();
            for (int m = 0; m < c.Neurons; m++)
            {
                float zz = z[t * c.Neurons + m];
                if (zz + (p.Bias[m] - theta) > 0) { expected.Add((m, zz + p.Bias[m])); fires[m]++; }
            }
            var got = code.Indices(t).ToArray().Zip(code.Values(t).ToArray()).ToList();
            Assert.Equal(expected, got);
            Assert.All(got, e => Assert.True(e.Item2 > theta - 1e-5f));
        }
        Assert.Equal(fires, stats.FireCount);
    }

    [Fact]
    public void ArchitectureRejectsAThresholdOutsideTheReluThresholdForm()
    {
        Assert.Throws<ArgumentException>(() => (new SaeArchitecture(4, 8, true, SaeActivation.JumpRelu) with { ReluThreshold = 0.1f }).Validate());
        Assert.Throws<ArgumentException>(() => (new SaeArchitecture(4, 8, true, SaeActivation.Relu, SparsityMode.TopK, 2) with { ReluThreshold = 0.1f }).Validate());
        Assert.Throws<ArgumentException>(() => (new SaeArchitecture(4, 8, true, SaeActivation.Relu) with { ReluThreshold = -1f }).Validate());
        Assert.Throws<ArgumentException>(() => (new SaeArchitecture(4, 8, true, SaeActivation.Relu) with { ReluThreshold = float.NaN }).Validate());
        (new SaeArchitecture(4, 8, true, SaeActivation.Relu) with { ReluThreshold = 0.1f }).Validate();
    }
}
