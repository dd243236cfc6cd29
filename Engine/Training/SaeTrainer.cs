using System.Diagnostics;
using GbaEngine.Checkpoints;
using GbaEngine.Collectives;
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
///
/// On a <see cref="Communicator"/> of several ranks the trainer holds one <see cref="NeuronShard"/> of the
/// neurons (docs/distributed.md): every rank reads the same batches, encodes and back-propagates its own
/// rows, and the ranks sum x̂ (B×d floats), b_pre's gradient (d), GBA's group peaks (2K + 2) and the
/// step's active count and divergence flag (two longs), and agree on stopping (one long); TopK merges the
/// ranks' per-token candidates exactly (<see cref="ShardedTopK"/>). Other methods, and AuxK, are refused
/// there (<see cref="ShardingUnsupported"/>).
/// </summary>
public sealed partial class SaeTrainer : IDisposable
{
    readonly TrainerOptions _o;
    readonly SaeArchitecture _arch;                 // this rank's neurons (all of them in a single process)
    readonly Communicator _comm;
    readonly NeuronShard _shard;
    readonly SaeParameters? _whole;                 // sharded: every rank's rows, gathered for evaluation and export
    readonly SparseAutoencoder? _wholeModel;
    readonly int[] _rowCounts = [], _neuronCounts = [];   // sharded: gather counts per rank (floats of rows, neurons)
    readonly long[] _stepTotals = new long[2];      // sharded: active entries and divergence flag, summed over ranks
    readonly long[] _stopVote = new long[1];
    readonly ShardedTopK? _topK;                    // sharded TopK: the exact merge of the ranks' candidates
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
    readonly LearningRateSchedule _schedule;
    readonly DeadLatents? _dead;                    // AuxK and resampling: tokens since each latent fired
    readonly AuxKLoss? _auxK;
    readonly DeadLatentResampling? _resampling;
    readonly SparseCode _probe = new();             // resampling's forward pass after the step
    readonly (int Offset, int Length)[] _adamSegments;  // the parts of the flat buffer AdamW trains
    readonly float[] _biasScratch;                     // sorted copy of b for the bias-update report
    long _step;
    long _tokens;
    bool _nonFiniteParameters;         // set by the AdamW pass when an update leaves a parameter NaN or infinite
    double _secondsBefore;             // training seconds before this process (resumed runs)
    List<EvaluationReport> _evaluations = [];

    /// <summary>A trainer for data of width <paramref name="dim"/> (validates the options; allocates every buffer once).</summary>
    public SaeTrainer(TrainerOptions options, int dim) : this(options, dim, SingleProcessCommunicator.Instance)
    {
    }

    /// <summary>
    /// A trainer for this rank's share of the neurons of a run over <paramref name="communicator"/>'s ranks, every
    /// rank constructing its own with the same options and training on the same stream. With one rank it is the
    /// single-process trainer.
    /// </summary>
    public SaeTrainer(TrainerOptions options, int dim, Communicator communicator)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        options.Validate();
        _o = options;
        var whole = options.Architecture(dim);
        whole.Validate();
        _comm = communicator;
        if (communicator.Size > 1 && ShardingUnsupported(options) is { } why) throw new NotSupportedException(why);
        _shard = NeuronShard.Of(options.Neurons, communicator);
        // A TopK shard selects its own top min(k, its neurons) per token; ShardedTopK merges them exactly.
        _arch = whole with { Neurons = _shard.Count, K = whole.Sparsity == SparsityMode.TopK ? Math.Min(whole.K, _shard.Count) : whole.K };
        if (!_shard.IsWhole && whole.Sparsity == SparsityMode.TopK) _topK = new ShardedTopK(communicator, _shard, whole.K, options.BatchSize);
        _p = new SaeParameters(dim, _shard.Count, options.Tied);
        if (!_shard.IsWhole)
        {
            _whole = new SaeParameters(dim, options.Neurons, options.Tied);
            _wholeModel = new SparseAutoencoder(whole, _whole, options.Normalization, 1f, options.Kernels);
            _neuronCounts = _shard.Counts();
            _rowCounts = [.. _neuronCounts.Select(c => c * _p.Stride)];
        }
        _grad = _p.CloneShape();
        _m1 = _p.CloneShape();
        _m2 = _p.CloneShape();
        Model = new SparseAutoencoder(_arch, _p, options.Normalization, 1f, options.Kernels);
        var kernels = Model.Kernels;
        _pool = new WorkerPool(Math.Max(1, options.Threads));
        _encoder = new BatchEncoder(_arch, _p, options.BatchSize, _pool, kernels);
        _backward = new SparseBackward(_arch, _p, options.BatchSize, _pool) { Kernels = kernels, Communicator = communicator };
        if (_arch.Sparsity == SparsityMode.MatchingPursuit)
        {
            _mp = new MatchingPursuitEncoder(_arch, _p, options.BatchSize, options.Threads, kernels);
            _mpBackward = new MatchingPursuitBackward(_p, options.Threads) { Kernels = kernels };
        }
        _stats = new FiringStatistics(_shard.Count);
        _x = new AlignedArray((long)options.BatchSize * _p.Stride);
        _raw = new float[(long)options.BatchSize * dim];
        _factors = new float[options.BatchSize];
        var tafs = options.TargetFrequencies();
        _baseline = BaselineSteps.Create(options, _p, _pool, kernels);
        _schedule = LearningRateSchedule.Of(options);
        if (options.TracksDeadLatents) _dead = new DeadLatents(options.Neurons, options.ResolvedDeadTokens);
        if (options.UsesAuxK)
        {
            int k = Math.Min(options.ResolvedAuxK(dim), options.Neurons);
            _auxK = new AuxKLoss(_arch, _p, options.BatchSize, _pool, _dead!, k, options.AuxKCoefficient, kernels);
            _encoder.EnableDeadSelection(k);
        }
        if (options.UsesResampling)
            _resampling = new DeadLatentResampling(_p, _m1, _m2, options.BatchSize, options.Seed, freeRows: !options.RenormalizesDecoder,
                bias: options.Method == TrainingMethod.JumpReluL0 ? -(float)options.InitialThreshold : 0f);
        Groups = tafs.Length == 0 ? null : new GroupBiasAdaptation(options.Neurons, tafs, options.Seed,
            options.GammaPlus, options.GammaMinus, options.DeadEpsilon, options.BiasRule)
        {
            Sharding = _shard.IsWhole ? null : (_shard, communicator),
        };
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

    /// <summary>
    /// Why <paramref name="options"/> cannot train sharded over several ranks (naming the method), or null when it
    /// can: GBA, BA and TopK without AuxK, tied or untied. AuxK's dead-latent selection, BatchTopK, MP, L1 and
    /// JumpReLU-L0 need a global selection or a loss over all neurons that is not built yet.
    /// </summary>
    public static string? ShardingUnsupported(TrainerOptions options) =>
        options.Method is not (TrainingMethod.Gba or TrainingMethod.Ba or TrainingMethod.TopK)
            ? $"--method {options.Method.ToString().ToLowerInvariant()} cannot yet train sharded over MPI ranks: only gba, ba and topk (with --aux-k 0) can (run it as one process)"
            : options.UsesAuxK ? $"--method {options.Method.ToString().ToLowerInvariant()} with AuxK cannot yet train sharded over MPI ranks: give --aux-k 0, or run it as one process"
            : options.TracksDeadLatents ? "dead-latent tracking cannot yet train sharded over MPI ranks (run it as one process)" : null;

    /// <summary>
    /// The model being trained (its parameters change with every step). In a sharded run, this rank's neurons
    /// only: <see cref="GatherModel"/> assembles the whole SAE.
    /// </summary>
    public SparseAutoencoder Model { get; }

    /// <summary>The neurons this trainer holds (all of them in a single process).</summary>
    public NeuronShard Shard => _shard;

    /// <summary>
    /// The whole SAE as it stands: <see cref="Model"/> itself in a single process; in a sharded run every rank's
    /// rows gathered into one model on every rank (a collective call: all ranks make it together).
    /// </summary>
    public SparseAutoencoder GatherModel()
    {
        if (_whole is null) return Model;
        _comm.AllGatherVariable<float>(_p.Decoder, _whole.Decoder, _rowCounts);
        if (!_p.Tied) _comm.AllGatherVariable<float>(_p.Encoder, _whole.Encoder, _rowCounts);
        _comm.AllGatherVariable<float>(_p.Scale, _whole.Scale, _neuronCounts);
        _comm.AllGatherVariable<float>(_p.Bias, _whole.Bias, _neuronCounts);
        _p.PreBias.CopyTo(_whole.PreBias);
        _wholeModel!.InputScale = Model.InputScale;
        return _wholeModel;
    }
    /// <summary>GBA's groups and bias rule (null for the baselines).</summary>
    public GroupBiasAdaptation? Groups { get; }
    /// <summary>Tokens since each latent last fired (AuxK and resampling), or null when the method keeps none.</summary>
    public DeadLatents? DeadLatents => _dead;
    /// <summary>The AuxK loss of TopK and BatchTopK, or null.</summary>
    internal AuxKLoss? AuxK => _auxK;
    /// <summary>The dead-latent resampling of L1 and JumpReLU-L0, or null.</summary>
    internal DeadLatentResampling? Resampling => _resampling;
    /// <summary>The options it trains with.</summary>
    public TrainerOptions Options => _o;
    /// <summary>Steps taken so far (the step number of the last <see cref="TrainStep"/>).</summary>
    public long Step => _step;

    /// <summary>
    /// A step whose loss per token exceeds this has diverged. Inputs are normalised to mean token norm 1
    /// (dataset scale) or norm 1 (per token), where reconstructing nothing costs about 0.5 per token, so
    /// this is four orders of magnitude above the worst sane loss; a state past it does not come back.
    /// A fixed bound rather than one relative to the run's history keeps a resumed run stopping exactly
    /// where the uninterrupted one would.
    /// </summary>
    public const double DivergedLoss = 1e4;

    /// <summary>
    /// Trains on the stream for the token budget, evaluating on <paramref name="eval"/>; continues from
    /// the restored state after <see cref="Restore"/>. Cancellation is honoured between steps: the
    /// current step finishes, a checkpoint is written (if <paramref name="checkpoints"/> is given),
    /// then <see cref="OperationCanceledException"/> is thrown.
    /// </summary>
    public TrainingResult Train(ITokenStream data, EvaluationSet eval, ITrainingObserver? observer = null, CancellationToken cancel = default,
        CheckpointSchedule? checkpoints = null)
    {
        if (data.Dim != _arch.Dim) throw new ArgumentException($"The stream has rows of d = {data.Dim}, the SAE was built for d = {_arch.Dim}.", nameof(data));
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
                var report = new EvaluationReport(_step, _tokens, Seconds(), Evaluator.Evaluate(GatherModel(), eval, Groups?.Assignment, _o.Threads));
                _evaluations.Add(report);
                observer?.OnEvaluation(report);
            }
            if (_step == totalSteps) break;
            bool stop = cancel.IsCancellationRequested;
            if (!_shard.IsWhole)
            {
                // One rank's signal stops every rank after the same step, each writing its part of the checkpoint.
                _stopVote[0] = stop ? 1 : 0;
                _comm.AllReduce(_stopVote, ReduceOperation.Max);
                stop = _stopVote[0] != 0;
            }
            if (checkpoints != null && (stop || checkpoints.IsDue(_step))) checkpoints.Sink.Save(Capture(data, Seconds(), checkpoints.Application));
            if (stop) throw new OperationCanceledException($"Training stopped after step {_step} of {totalSteps}.", cancel);
        }

        _baseline?.Publish(Model);
        var model = GatherModel();
        EvaluationReport final;
        if (_evaluations.Count > 0 && _evaluations[^1].Step == totalSteps)
            final = _evaluations[^1];       // resumed from the checkpoint of a finished run
        else
        {
            double seconds = Seconds();
            final = new EvaluationReport(totalSteps, _tokens, seconds, Evaluator.Evaluate(model, eval, Groups?.Assignment, _o.Threads));
            _evaluations.Add(final);
            observer?.OnEvaluation(final);
            checkpoints?.Sink.Save(Capture(data, seconds, checkpoints.Application));
        }
        return new TrainingResult(model, final.Metrics, totalSteps, _tokens, final.Seconds, _evaluations, Groups);
    }

    /// <summary>Scale, b_pre, weights and biases from the first tokens of the stream
    /// (<see cref="Train"/> calls it; call it directly only to drive <see cref="TrainStep"/> yourself).</summary>
    public void Initialize(ITokenStream data)
    {
        int d = _arch.Dim, n = _o.InitTokens, stride = _p.Stride;
        _step = 0;
        if (data.Dim != d) throw new ArgumentException($"The stream has rows of d = {data.Dim}, the SAE was built for d = {d}.", nameof(data));
        var init = new float[(long)n * d];
        data.NextBatch(init, n);
        if (NonFinite.Any(init, Model.Kernels))
            throw new ArgumentException($"The stream delivered NaN or infinity in row {FirstNonFiniteRow(init, d)} of the first InitTokens = {n} rows ({data.Describe()}).", nameof(data));

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

        // Weights: decoder rows of unit norm, a = 1. The generator walks all M rows, so each rank of a sharded run
        // keeps exactly the rows a single process would have.
        var rng = Xoshiro256.Derive(_o.Seed, 0x3E16);
        var dec = _p.Decoder;
        dec.Clear();
        bool linearStart = _o.ResolvedEncoderStart == Training.EncoderStart.Linear;
        double bound = 1.0 / Math.Sqrt(d);
        for (int m = 0; m < _shard.Total; m++)
        {
            bool mine = _shard.Owns(m);
            int row = (m - _shard.First) * stride;
            for (int j = 0; j < d; j++)
            {
                float v = linearStart ? (float)((2 * rng.NextDouble() - 1) * bound) : (float)rng.NextGaussian();
                if (mine) dec[row + j] = v;
            }
        }
        // The linear start keeps the drawn rows (norm about 1/sqrt(3)) as the encoder; the decoder is their direction.
        if (linearStart) dec.CopyTo(_p.Encoder);
        Model.NormalizeDecoderRows(_o.Threads);
        if (!_p.Tied && !linearStart) dec.CopyTo(_p.Encoder);
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
            int first = _shard.First;
            if (q != null) q.Apply(_p.Bias, m => Groups.TafOf(first + m));
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
        _nonFiniteParameters = false;
        if (data.Dim != _arch.Dim) throw new ArgumentException($"The stream has rows of d = {data.Dim}, the SAE was built for d = {_arch.Dim}.", nameof(data));
        long t0 = Stopwatch.GetTimestamp();
        data.NextBatch(_raw, rows);
        Model.NormalizeBatch(_raw, rows, _x, _factors, _pool);
        long t1 = Stopwatch.GetTimestamp();
        if (_mp != null) return MatchingPursuitStep(data, rows, t0, t1);
        _auxK?.Prepare(_encoder);
        if (_baseline is null) _encoder.Encode(_x, rows, _code, _stats);
        else _baseline.Encode(_encoder, _x, rows, _code);
        _topK?.Merge(_code, rows);
        long t2 = Stopwatch.GetTimestamp();
        double loss = _backward.Decode(_x, rows, _code);
        long t3 = Stopwatch.GetTimestamp();
        _backward.Gradients(_encoder.Xc, rows, _code, _grad);
        if (_baseline != null) loss += _baseline.AddGradients(_encoder, _backward, rows, _code, _grad, _step, _o.Steps);
        if (_auxK != null) loss += _auxK.Add(_encoder.Xc, _backward.Error, rows, _grad);
        long t4 = Stopwatch.GetTimestamp();

        var step = new AdamWStep(LearningRate, (float)_o.Beta1, (float)_o.Beta2, (float)_o.AdamEpsilon, (float)_o.WeightDecay, _step);
        foreach (var (offset, length) in _adamSegments) _pool.For(length, new AdamWJob(this, step, offset), granule: 1024);
        _baseline?.AfterStep(_p);
        long t5 = Stopwatch.GetTimestamp();
        if (_o.RenormalizesDecoder) Model.NormalizeDecoderRows(_pool);
        long active = _code.Count;
        if (!_shard.IsWhole)
        {
            // Every rank must take the same decision on divergence, and L0 counts every rank's neurons.
            (_stepTotals[0], _stepTotals[1]) = (active, _nonFiniteParameters ? 1 : 0);
            _comm.AllReduce(_stepTotals, ReduceOperation.Sum);
            (active, _nonFiniteParameters) = (_stepTotals[0], _stepTotals[1] != 0);
        }
        if (_dead != null)
        {
            _dead.Update(_code, rows);
            if (_resampling != null && _step % _o.ResampleEvery == 0) Resample(rows);
        }

        BiasUpdateReport? summary = null;
        if (Groups != null && _stats.Tokens >= _o.BufferTokens)
        {
            double bufferL0 = 0;
            foreach (long c in _stats.FireCount) bufferL0 += c;
            var rule = Groups.Update(_stats, _p.Bias);
            if (_shard.IsWhole) _p.Bias.CopyTo(_biasScratch);
            else
            {
                _stepTotals[0] = (long)bufferL0;
                _comm.AllReduce(_stepTotals.AsSpan(0, 1), ReduceOperation.Sum);
                bufferL0 = _stepTotals[0];
                _comm.AllGatherVariable<float>(_p.Bias, _biasScratch, _neuronCounts);
            }
            bufferL0 /= _stats.Tokens;
            Array.Sort(_biasScratch);
            int last = _biasScratch.Length - 1;
            summary = new BiasUpdateReport(_step, rule, bufferL0, MathF.Sqrt(Blas1.Dot(_p.PreBias, _p.PreBias)),
                _biasScratch[last / 10], _biasScratch[last / 2], _biasScratch[last - last / 10]);
            _stats.Reset();
        }
        long t6 = Stopwatch.GetTimestamp();
        Profile.Add(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5);
        CheckDivergence(loss, data);
        return new StepOutcome(loss, _code.Tokens == 0 ? 0 : (double)active / _code.Tokens, summary);
    }

    /// <summary>AdamW's rate at step <see cref="Step"/> (the step being taken, or the last one taken): the base rate times the schedule's factor.</summary>
    internal float LearningRate => (float)(_o.LearningRate * _schedule.Factor(_step, _o.Steps));

    /// <summary>Resampling: the dead latents re-initialised from this batch's worst-reconstructed tokens under the updated model.</summary>
    void Resample(int rows)
    {
        _dead!.Refresh();
        if (_dead.DeadCount == 0) return;
        _encoder.Encode(_x, rows, _probe, null);
        _backward.Decode(_x, rows, _probe);
        _resampling!.Resample(_x, _backward.Error, rows, _dead.Dead, _step);
    }

    /// <summary>
    /// Stops a diverged run (one comparison of the already summed loss, and a flag the AdamW pass set). A
    /// non-finite loss from non-finite input is the data's fault, not the learning rate's: that is checked
    /// first, only on this rare path.
    /// </summary>
    void CheckDivergence(double loss, ITokenStream data)
    {
        if (loss <= DivergedLoss && !_nonFiniteParameters) return;
        if (!double.IsFinite(loss) && NonFinite.Any(_raw.AsSpan(0, _o.BatchSize * _arch.Dim), Model.Kernels))
            throw new ArgumentException($"The stream delivered NaN or infinity in row {FirstNonFiniteRow(_raw, _arch.Dim)} of the batch of step {_step} ({data.Describe()}).", nameof(data));
        throw new TrainingDivergedException(_step, loss, _nonFiniteParameters, _o.LearningRate);
    }

    static int FirstNonFiniteRow(float[] rows, int d)
    {
        for (int r = 0; (long)r * d < rows.Length; r++)
            if (NonFinite.AnyScalar(rows.AsSpan(r * d, d))) return r;
        return -1;
    }

    /// <summary>MP-SAE: pursuit, loss and chain gradients; AdamW on the dictionary and b_pre only (a stays 1, b unused).</summary>
    StepOutcome MatchingPursuitStep(ITokenStream data, int rows, long t0, long t1)
    {
        _mp!.Encode(_x, rows, _code, _stats);
        long t2 = Stopwatch.GetTimestamp();
        double loss = _mpBackward!.Loss(_mp, rows);
        long t3 = Stopwatch.GetTimestamp();
        _mpBackward.Gradients(_mp, rows, _grad);
        long t4 = Stopwatch.GetTimestamp();
        var step = new AdamWStep(LearningRate, (float)_o.Beta1, (float)_o.Beta2, (float)_o.AdamEpsilon, (float)_o.WeightDecay, _step);
        foreach (var (offset, length) in _adamSegments) _pool.For(length, new AdamWJob(this, step, offset), granule: 1024);
        long t5 = Stopwatch.GetTimestamp();
        Model.NormalizeDecoderRows(_pool);
        Profile.Add(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, Stopwatch.GetTimestamp() - t5);
        CheckDivergence(loss, data);
        return new StepOutcome(loss, _code.L0, null);
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        _mp?.Dispose();
        _encoder.Dispose();
        _pool.Dispose();
    }

    /// <summary>
    /// AdamW over [offset + start, offset + end) in blocks small enough to stay in L1/L2, each tested for NaN/inf
    /// right after its update, so the divergence check re-reads cached values instead of streaming the buffer
    /// again. Splitting changes no bit: the update is element-wise.
    /// </summary>
    readonly struct AdamWJob(SaeTrainer trainer, AdamWStep step, int offset) : IRangeJob
    {
        const int Block = 2048;

        public void Run(int part, int start, int end)
        {
            var set = trainer.Model.Kernels;
            bool bad = false;
            for (int s = offset + start, stop = offset + end; s < stop; s += Block)
            {
                int e = Math.Min(stop, s + Block);
                var p = trainer._p.Data.Span[s..e];
                AdamW.Update(p, trainer._grad.Data.Span[s..e], trainer._m1.Data.Span[s..e], trainer._m2.Data.Span[s..e], step, set);
                bad |= NonFinite.Any(p, set);
            }
            // Only ever set to true by any worker between the reset and the join that ends the pass.
            if (bad) trainer._nonFiniteParameters = true;
        }
    }

    void LoadNormalized(ReadOnlySpan<float> raw, int rows) => Model.NormalizeBatch(raw, rows, _x.Span, _factors);
}
