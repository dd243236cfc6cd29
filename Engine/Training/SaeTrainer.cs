using System.Diagnostics;
using GbaEngine.Checkpoints;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Memory;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Threading;
using GbaEngine.Training.Baselines;
using GbaEngine.Encoders;
using GbaEngine.Rng;

namespace GbaEngine.Training;

/// <summary>
/// The training loop (spec/gba.md §2-3). Start-up reads the first InitTokens tokens to fix the input
/// scale (mean token norm → 1), b_pre (the data mean) and, for the quantile warm start, the biases.
/// Each step then: normalise a batch; encode it (pre-activations from the weights before the step,
/// GBA statistics gathered in the same pass); decode and back-propagate from the sparse code; AdamW
/// on everything but b (TopK: b too); renormalise decoder rows; every BufferTokens tokens apply the
/// GBA bias rule and reset the statistics. The baselines (L1, BatchTopK, JumpReLU-L0) run through the
/// same step, their own work in an <see cref="IBaselineStep"/> around the shared calls.
/// </summary>
public sealed partial class SaeTrainer : IDisposable
{
    readonly TrainerOptions _o;
    readonly SaeArchitecture _arch;
    readonly SaeParameters _p, _grad, _m1, _m2;
    readonly WorkerPool _pool;
    readonly BatchEncoder _encoder;
    readonly SparseBackward _backward;
    readonly MatchingPursuitEncoder? _mp;          // MP-SAE replaces the encoder pass and backward
    readonly MatchingPursuitBackward? _mpBackward;
    readonly SparseCode _code = new();
    readonly FiringStatistics _stats;
    readonly AlignedArray _x;
    readonly float[] _raw;
    readonly float[] _factors;     // per-row factors back to the original scale (unused by training itself)
    readonly IBaselineStep? _baseline;
    readonly (int Offset, int Length)[] _adamSegments;  // the parts of the flat buffer AdamW trains
    readonly float[] _biasScratch;                     // sorted copy of b for the bias-update report
    long _step;
    long _tokens;
    double _secondsBefore;             // training seconds before this process (resumed runs)
    List<EvaluationReport> _evaluations = [];

    /// <summary>A trainer for data of width <paramref name="dim"/> (validates the options; allocates every buffer once).</summary>
    public SaeTrainer(TrainerOptions options, int dim)
    {
        options.Validate();
        _o = options;
        _arch = options.Architecture(dim);
        _arch.Validate();
        _p = new SaeParameters(dim, options.Neurons, options.Tied);
        _grad = _p.CloneShape();
        _m1 = _p.CloneShape();
        _m2 = _p.CloneShape();
        Model = new SparseAutoencoder(_arch, _p, options.Normalization, 1f, options.Kernels);
        var kernels = Model.Kernels;
        _pool = new WorkerPool(Math.Max(1, options.Threads));
        _encoder = new BatchEncoder(_arch, _p, options.BatchSize, _pool, kernels);
        _backward = new SparseBackward(_arch, _p, options.BatchSize, _pool) { Kernels = kernels };
        if (_arch.Sparsity == SparsityMode.MatchingPursuit)
        {
            _mp = new MatchingPursuitEncoder(_arch, _p, options.BatchSize, options.Threads, kernels);
            _mpBackward = new MatchingPursuitBackward(_p, options.Threads) { Kernels = kernels };
        }
        _stats = new FiringStatistics(options.Neurons);
        _x = new AlignedArray((long)options.BatchSize * _p.Stride);
        _raw = new float[(long)options.BatchSize * dim];
        _factors = new float[options.BatchSize];
        var tafs = options.TargetFrequencies();
        _baseline = BaselineSteps.Create(options, _p, _pool, kernels);
        Groups = tafs.Length == 0 ? null : new GroupBiasAdaptation(options.Neurons, tafs, options.Seed,
            options.GammaPlus, options.GammaMinus, options.DeadEpsilon, options.BiasRule);
        _adamSegments = AdamSegments(_p, options, _mp != null);
        _biasScratch = Groups is null ? [] : new float[options.Neurons];
    }

    /// <summary>
    /// The parameter ranges AdamW updates, in layout order (W_dec | W_enc | a | b_pre | b): the weights and a always,
    /// b_pre unless frozen or absent, b only for the methods that train it by gradient. MP-SAE trains its dictionary
    /// and b_pre only (a stays 1, b is unused). Contiguous ranges are merged so the usual case is one loop.
    /// </summary>
    static (int, int)[] AdamSegments(SaeParameters p, TrainerOptions o, bool matchingPursuit)
    {
        var parts = new List<(int Offset, int Length)> { (0, (int)(matchingPursuit ? p.ScaleOffset : p.PreBiasOffset)) };
        if (o.PreBias == PreBiasMode.Trained) parts.Add(((int)p.PreBiasOffset, p.Stride));
        if (!matchingPursuit && o.TrainsBiasByGradient) parts.Add(((int)p.BiasOffset, (int)(p.Data.Length - p.BiasOffset)));
        var merged = new List<(int Offset, int Length)>();
        foreach (var part in parts)
        {
            if (merged.Count > 0 && merged[^1].Offset + merged[^1].Length == part.Offset)
                merged[^1] = (merged[^1].Offset, merged[^1].Length + part.Length);
            else merged.Add(part);
        }
        return [.. merged];
    }

    /// <summary>The model being trained (its parameters change with every step).</summary>
    public SparseAutoencoder Model { get; }
    /// <summary>GBA's groups and bias rule (null for the baselines).</summary>
    public GroupBiasAdaptation? Groups { get; }
    /// <summary>The options it trains with.</summary>
    public TrainerOptions Options => _o;
    /// <summary>Steps taken so far (the step number of the last <see cref="TrainStep"/>).</summary>
    public long Step => _step;

    /// <summary>
    /// Trains on the stream for the token budget, evaluating on <paramref name="eval"/>; continues from
    /// the restored state after <see cref="Restore"/>. Cancellation is honoured between steps: the
    /// current step finishes, a checkpoint is written (if <paramref name="checkpoints"/> is given),
    /// then <see cref="OperationCanceledException"/> is thrown.
    /// </summary>
    public TrainingResult Train(ITokenStream data, EvaluationSet eval, ITrainingObserver? observer = null, CancellationToken cancel = default,
        CheckpointSchedule? checkpoints = null)
    {
        if (data.Dim != _arch.Dim) throw new ArgumentException($"Data has d = {data.Dim}, the SAE was built for d = {_arch.Dim}.");
        var clock = Stopwatch.StartNew();
        long totalSteps = _o.Steps;
        if (_restored is { } from)
        {
            from.Stream.Verify(data);
            _evaluations = [.. from.EvaluationsFor(_o)];
            _tokens = from.Tokens;
            _secondsBefore = from.Seconds;
            _restored = null;
        }
        else
        {
            // Not cancellable before the first step: a stop requested during start-up still leaves a resumable checkpoint.
            Initialize(data);
            (_tokens, _secondsBefore, _evaluations) = (0, 0, []);
        }
        double Seconds() => _secondsBefore + clock.Elapsed.TotalSeconds;

        while (_step < totalSteps)
        {
            var outcome = TrainStep(data);
            _tokens += _o.BatchSize;
            observer?.OnStep(new StepReport(_step, totalSteps, _tokens, totalSteps * _o.BatchSize, outcome.Loss, outcome.L0, Seconds()));
            if (outcome.BiasUpdate is { } summary) observer?.OnBiasUpdate(summary);
            if (_step != totalSteps && _o.IsEvaluationStep(_step))
            {
                _baseline?.Publish(Model);
                var report = new EvaluationReport(_step, _tokens, Seconds(), Evaluator.Evaluate(Model, eval, Groups?.Assignment, _o.Threads));
                _evaluations.Add(report);
                observer?.OnEvaluation(report);
            }
            if (_step == totalSteps) break;
            bool stop = cancel.IsCancellationRequested;
            if (checkpoints != null && (stop || checkpoints.IsDue(_step))) checkpoints.Sink.Save(Capture(data, Seconds(), checkpoints.Application));
            if (stop) throw new OperationCanceledException($"Training stopped after step {_step} of {totalSteps}.", cancel);
        }

        _baseline?.Publish(Model);
        EvaluationReport final;
        if (_evaluations.Count > 0 && _evaluations[^1].Step == totalSteps)
            final = _evaluations[^1];       // resumed from the checkpoint of a finished run
        else
        {
            double seconds = Seconds();
            final = new EvaluationReport(totalSteps, _tokens, seconds, Evaluator.Evaluate(Model, eval, Groups?.Assignment, _o.Threads));
            _evaluations.Add(final);
            observer?.OnEvaluation(final);
            checkpoints?.Sink.Save(Capture(data, seconds, checkpoints.Application));
        }
        return new TrainingResult(Model, final.Metrics, totalSteps, _tokens, final.Seconds, _evaluations, Groups);
    }

    /// <summary>Scale, b_pre, weights and biases from the first tokens of the stream
    /// (<see cref="Train"/> calls it; call it directly only to drive <see cref="TrainStep"/> yourself).</summary>
    public void Initialize(ITokenStream data)
    {
        int d = _arch.Dim, n = _o.InitTokens, stride = _p.Stride;
        _step = 0;
        var init = new float[(long)n * d];
        data.NextBatch(init, n);

        double normSum = 0;
        for (int t = 0; t < n; t++)
        {
            double s2 = 0;
            for (int j = 0; j < d; j++) { double v = init[(long)t * d + j]; s2 += v * v; }
            normSum += Math.Sqrt(s2);
        }
        double meanNorm = normSum / n;
        if (!(meanNorm > 0) || double.IsInfinity(meanNorm))
            throw new InvalidDataException($"The first {n} tokens have mean norm {meanNorm}: cannot set the input scale.");
        Model.InputScale = (float)(1.0 / meanNorm);

        // Weights: Gaussian rows of unit norm; a = 1; untied encoder starts as the decoder's copy.
        var rng = Xoshiro256.Derive(_o.Seed, 0x3E16);
        var dec = _p.Decoder;
        dec.Clear();
        for (int m = 0; m < _arch.Neurons; m++)
            for (int j = 0; j < d; j++) dec[m * stride + j] = (float)rng.NextGaussian();
        Model.NormalizeDecoderRows(_o.Threads);
        if (!_p.Tied) dec.CopyTo(_p.Encoder);
        _p.Scale.Fill(1f);
        _p.Bias.Clear();

        // b_pre = mean of the normalised init tokens.
        var pre = _p.PreBias;
        pre.Clear();
        var xn = new float[stride];
        var meanAcc = new double[d];
        for (int t = 0; t < n; t++)
        {
            Model.Normalize(init.AsSpan(t * d, d), xn);
            for (int j = 0; j < d; j++) meanAcc[j] += xn[j];
        }
        if (_o.PreBias == PreBiasMode.None) pre.Clear();
        else for (int j = 0; j < d; j++) pre[j] = (float)(meanAcc[j] / n);

        if (Groups != null && _o.BiasInit != BiasInitialization.Zero)
        {
            // With b = 0 the code holds every z > 0 (h = z for both gates), which is what the quantiles need, and the
            // statistics' peak y is each neuron's largest z, which is its edge.
            var q = _o.BiasInit == BiasInitialization.Quantile ? new QuantileBiasInit(_arch.Neurons) : null;
            var scratch = new FiringStatistics(_arch.Neurons);
            for (int start = 0; start < n; start += _o.BatchSize)
            {
                int rows = Math.Min(_o.BatchSize, n - start);
                LoadNormalized(init.AsSpan(start * d, rows * d), rows);
                _encoder.Encode(_x, rows, _code, scratch);
                q?.Add(_code);
            }
            if (q != null) q.Apply(_p.Bias, Groups.TafOf);
            else
                for (int m = 0; m < _arch.Neurons; m++) _p.Bias[m] = -Math.Clamp(scratch.MaxY[m], 0f, 1f);
        }
        _baseline?.Initialize(_p);
        _stats.Reset();
    }

    /// <summary>Time spent in each phase of <see cref="TrainStep"/>, accumulated since construction.</summary>
    public StepProfile Profile { get; } = new();

    /// <summary>
    /// One training step on the next batch of <paramref name="data"/>: normalise, encode (fused with
    /// the GBA statistics), decode and back-propagate from the sparse code, AdamW, renormalise, and the
    /// GBA bias rule when the statistics buffer is full. Allocates nothing once warmed up.
    /// </summary>
    public StepOutcome TrainStep(ITokenStream data)
    {
        int rows = _o.BatchSize;
        _step++;
        long t0 = Stopwatch.GetTimestamp();
        data.NextBatch(_raw, rows);
        Model.NormalizeBatch(_raw, rows, _x, _factors, _pool);
        long t1 = Stopwatch.GetTimestamp();
        if (_mp != null) return MatchingPursuitStep(rows, t0, t1);
        if (_baseline is null) _encoder.Encode(_x, rows, _code, _stats);
        else _baseline.Encode(_encoder, _x, rows, _code);
        long t2 = Stopwatch.GetTimestamp();
        double loss = _backward.Decode(_x, rows, _code);
        long t3 = Stopwatch.GetTimestamp();
        _backward.Gradients(_encoder.Xc, rows, _code, _grad);
        if (_baseline != null) loss += _baseline.AddGradients(_encoder, _backward, rows, _code, _grad, _step, _o.Steps);
        long t4 = Stopwatch.GetTimestamp();

        var step = new AdamWStep((float)_o.LearningRate, (float)_o.Beta1, (float)_o.Beta2, (float)_o.AdamEpsilon, (float)_o.WeightDecay, _step);
        foreach (var (offset, length) in _adamSegments) _pool.For(length, new AdamWJob(this, step, offset), granule: 1024);
        _baseline?.AfterStep(_p);
        long t5 = Stopwatch.GetTimestamp();
        if (_o.RenormalizesDecoder) Model.NormalizeDecoderRows(_pool);

        BiasUpdateReport? summary = null;
        if (Groups != null && _stats.Tokens >= _o.BufferTokens)
        {
            double bufferL0 = 0;
            foreach (long c in _stats.FireCount) bufferL0 += c;
            bufferL0 /= _stats.Tokens;
            var rule = Groups.Update(_stats, _p.Bias);
            _p.Bias.CopyTo(_biasScratch);
            Array.Sort(_biasScratch);
            int last = _biasScratch.Length - 1;
            summary = new BiasUpdateReport(_step, rule, bufferL0, MathF.Sqrt(Blas1.Dot(_p.PreBias, _p.PreBias)),
                _biasScratch[last / 10], _biasScratch[last / 2], _biasScratch[last - last / 10]);
            _stats.Reset();
        }
        long t6 = Stopwatch.GetTimestamp();
        Profile.Add(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5);
        return new StepOutcome(loss, _code.L0, summary);
    }

    /// <summary>MP-SAE: pursuit, loss and chain gradients; AdamW on the dictionary and b_pre only (a stays 1, b unused).</summary>
    StepOutcome MatchingPursuitStep(int rows, long t0, long t1)
    {
        _mp!.Encode(_x, rows, _code, _stats);
        long t2 = Stopwatch.GetTimestamp();
        double loss = _mpBackward!.Loss(_mp, rows);
        long t3 = Stopwatch.GetTimestamp();
        _mpBackward.Gradients(_mp, rows, _grad);
        long t4 = Stopwatch.GetTimestamp();
        var step = new AdamWStep((float)_o.LearningRate, (float)_o.Beta1, (float)_o.Beta2, (float)_o.AdamEpsilon, (float)_o.WeightDecay, _step);
        foreach (var (offset, length) in _adamSegments) _pool.For(length, new AdamWJob(this, step, offset), granule: 1024);
        long t5 = Stopwatch.GetTimestamp();
        Model.NormalizeDecoderRows(_pool);
        Profile.Add(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, Stopwatch.GetTimestamp() - t5);
        return new StepOutcome(loss, _code.L0, null);
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        _mp?.Dispose();
        _encoder.Dispose();
        _pool.Dispose();
    }

    readonly struct AdamWJob(SaeTrainer trainer, AdamWStep step, int offset) : IRangeJob
    {
        public void Run(int part, int start, int end) =>
            AdamW.Update(trainer._p.Data.Span[(offset + start)..(offset + end)], trainer._grad.Data.Span[(offset + start)..(offset + end)],
                trainer._m1.Data.Span[(offset + start)..(offset + end)], trainer._m2.Data.Span[(offset + start)..(offset + end)], step, trainer.Model.Kernels);
    }

    void LoadNormalized(ReadOnlySpan<float> raw, int rows) => Model.NormalizeBatch(raw, rows, _x.Span, _factors);
}
