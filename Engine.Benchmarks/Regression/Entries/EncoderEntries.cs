using System.Globalization;
using GbaEngine.Encoders;
using GbaEngine.Inference;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// The training forward pass alone (<see cref="BatchEncoder"/>: product + bias + gate + GBA statistics
/// + sparse code) on the settled GBA weights and one normalised batch.
/// </summary>
internal sealed class FusedEncoderEntry : RegressionEntry
{
    readonly SaeTrainer _trainer;        // holds the settled weights
    readonly WorkerPool _pool;
    readonly BatchEncoder _encoder;
    readonly AlignedArray _x;
    readonly SparseCode _code = new();
    readonly FiringStatistics _stats = new(SuiteShape.Neurons);

    public FusedEncoderEntry(WarmState settled, float[] replay, int threads)
    {
        Threads = threads;
        _trainer = new SaeTrainer(settled.Checkpoint.Options with { Threads = threads }, SuiteShape.Dim);
        _trainer.Restore(settled.Checkpoint);
        var model = _trainer.Model;
        _pool = new WorkerPool(threads);
        _encoder = new BatchEncoder(model.Architecture, model.Parameters, SuiteShape.Batch, _pool);
        _x = new AlignedArray((long)SuiteShape.Batch * model.Parameters.Stride);
        model.NormalizeBatch(replay.AsSpan(0, SuiteShape.Batch * SuiteShape.Dim), SuiteShape.Batch, _x.Span, new float[SuiteShape.Batch]);
        Parameters = new Dictionary<string, string>
        {
            ["shape"] = $"batch {SuiteShape.Batch} x d {SuiteShape.Dim} x M {SuiteShape.Neurons}",
            ["state"] = $"GBA after {settled.Steps} steps (L0 {settled.L0.ToString("F1", CultureInfo.InvariantCulture)})",
        };
    }

    public override string Name => "fused-encoder/gba-settled";
    public override string WorkUnit => "GFLOP";
    /// <summary>The product's 2·B·d·M: the gate, statistics and code are the extra this entry pays for.</summary>
    public override double WorkPerOp => 2.0 * SuiteShape.Batch * SuiteShape.Dim * SuiteShape.Neurons / 1e9;
    public override int Threads { get; }
    public override IReadOnlyDictionary<string, string> Parameters { get; }

    public override void Reset() => _stats.Reset();

    public override void Run() => _encoder.Encode(_x, SuiteShape.Batch, _code, _stats);

    public override void Dispose()
    {
        _encoder.Dispose();
        _pool.Dispose();
        _trainer.Dispose();
    }
}

/// <summary>Inference: <see cref="SaeModel.EncodeBatch(ReadOnlySpan{float}, int, SparseFeatureBatch, int)"/> of raw tokens with the settled GBA SAE.</summary>
internal sealed class EncodeBatchEntry : RegressionEntry
{
    readonly SaeModel _model;
    readonly float[] _tokens;
    readonly SparseFeatureBatch _into = new();

    public EncodeBatchEntry(WarmState settled, float[] replay, int threads)
    {
        Threads = threads;
        using (var trainer = new SaeTrainer(settled.Checkpoint.Options with { Threads = threads }, SuiteShape.Dim))
        {
            trainer.Restore(settled.Checkpoint);
            _model = SaeModel.FromAutoencoder(trainer.Model);
        }
        _tokens = replay.AsSpan(0, SuiteShape.Batch * SuiteShape.Dim).ToArray();
        Parameters = new Dictionary<string, string>
        {
            ["shape"] = $"batch {SuiteShape.Batch} x d {SuiteShape.Dim} x M {SuiteShape.Neurons}",
            ["model"] = $"GBA after {settled.Steps} steps, {_model.Activation}",
        };
    }

    public override string Name => "sae-model/encode-batch";
    public override string WorkUnit => "tokens";
    public override double WorkPerOp => SuiteShape.Batch;
    public override int Threads { get; }
    public override IReadOnlyDictionary<string, string> Parameters { get; }

    public override void Run() => _model.EncodeBatch(_tokens, SuiteShape.Batch, _into, Threads);
}
