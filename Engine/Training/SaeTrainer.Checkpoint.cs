using System.Text.Json.Nodes;
using GbaEngine.Checkpoints;
using GbaEngine.Streams;

namespace GbaEngine.Training;

/// <summary>State capture and restore: what a checkpoint holds and how a trainer continues from one.</summary>
public sealed partial class SaeTrainer
{
    TrainingCheckpoint? _restored;

    /// <summary>
    /// Takes over the state of <paramref name="checkpoint"/>, so that <see cref="Train"/> continues
    /// it instead of initialising: call on a new trainer built with the checkpoint's options (the
    /// token budget may be larger; see <see cref="TrainingCheckpoint.EnsureCompatible"/>), then train on
    /// a stream re-positioned with <c>SyntheticStream.Restore</c> or <c>ActivationDataset.OpenStream(StreamState)</c>.
    /// With the same thread count and kernel set the result is bitwise that of an uninterrupted run.
    /// </summary>
    /// <param name="source">Names the checkpoint in error messages (its directory).</param>
    public void Restore(TrainingCheckpoint checkpoint, string source = "checkpoint")
    {
        checkpoint.EnsureCompatible(_o, _arch.Dim, source);
        NeuronShard? mine = _shard.IsWhole ? null : _shard;
        if (checkpoint.Shard != mine)
            throw new InvalidDataException($"{source}: the checkpoint holds {Describe(checkpoint.Shard)}, this process trains {Describe(mine)}: resume with the number of ranks that wrote it.");
        Expect(checkpoint.Parameters.Length, _p.Data.Length, "parameters");
        Expect(checkpoint.Moment1.Length, _p.Data.Length, "adam_m1");
        Expect(checkpoint.Moment2.Length, _p.Data.Length, "adam_m2");
        Expect(checkpoint.FireCount.Length, _arch.Neurons, "fire_count");
        Expect(checkpoint.MaxY.Length, _arch.Neurons, "max_y");
        if (!checkpoint.GroupOf.Span.SequenceEqual(Groups is null ? [] : Groups.GroupOf))
            throw new InvalidDataException($"{source}: the GBA group assignment differs from the one this engine derives from seed {_o.Seed}.");
        if (checkpoint.Step < 0 || checkpoint.Tokens != checkpoint.Step * _o.BatchSize || checkpoint.StatisticsTokens < 0)
            throw new InvalidDataException($"{source}: step {checkpoint.Step}, tokens {checkpoint.Tokens} and statistics tokens {checkpoint.StatisticsTokens} are inconsistent.");

        checkpoint.Parameters.Span.CopyTo(_p.Data.Span);
        checkpoint.Moment1.Span.CopyTo(_m1.Data.Span);
        checkpoint.Moment2.Span.CopyTo(_m2.Data.Span);
        Model.InputScale = checkpoint.InputScale;
        _stats.Restore(checkpoint.FireCount.Span, checkpoint.MaxY.Span, checkpoint.StatisticsTokens);
        _baseline?.RestoreState(checkpoint.BaselineState, source);
        if (_dead != null) _dead.Restore(checkpoint.TokensSinceFired.Span, source);
        else Expect(checkpoint.TokensSinceFired.Length, 0, "tokens_since_fired");
        _step = checkpoint.Step;
        _restored = checkpoint;

        void Expect(int actual, int expected, string tensor)
        {
            if (actual != expected) throw new InvalidDataException($"{source}: tensor {tensor} has {actual} elements, this SAE needs {expected}.");
        }
    }

    static string Describe(NeuronShard? shard) => shard is { } s ? s.ToString() : "all neurons in one process";

    /// <summary>The state between two steps. Refers to the live buffers: the sink must persist it before the next step.</summary>
    TrainingCheckpoint Capture(Streams.ITokenStream data, double seconds, JsonObject? application) => new()
    {
        Options = _o,
        Dim = _arch.Dim,
        Step = _step,
        Tokens = _tokens,
        Seconds = seconds,
        InputScale = Model.InputScale,
        Parameters = _p.Data.Memory,
        Moment1 = _m1.Data.Memory,
        Moment2 = _m2.Data.Memory,
        FireCount = _stats.FireCount,
        MaxY = _stats.MaxY,
        StatisticsTokens = _stats.Tokens,
        GroupOf = Groups?.GroupOf ?? [],
        Stream = data.CaptureState(),
        Evaluations = [.. _evaluations],
        Kernels = Model.Kernels.ToString().ToLowerInvariant(),
        BaselineState = _baseline?.CaptureState(),
        TokensSinceFired = _dead?.TokensSinceFired ?? ReadOnlyMemory<long>.Empty,
        Application = application,
        Shard = _shard.IsWhole ? null : _shard,
    };
}
