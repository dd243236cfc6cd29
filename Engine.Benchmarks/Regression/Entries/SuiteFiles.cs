using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// What every launch of a run shares, prepared once by the parent process in one directory: the
/// trainer states (trained on the best kernel set, saved as checkpoints) and the loader's files.
/// Launches load them instead of training again, so a launch costs seconds, not a warm-up.
/// </summary>
internal sealed class SuiteFiles(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>The states a suite needs: GBA settled (edge start) and early (quantile start), TopK and BatchTopK.</summary>
    public enum State { GbaSettled, GbaEarlyQuantile, TopK, BatchTopK }

    string StateDirectory(State s) => Path.Combine(Directory, "states", s.ToString().ToLowerInvariant());

    public Dictionary<ActivationDType, string> LoaderFiles { get; } = new()
    {
        [ActivationDType.F32] = Path.Combine(directory, "acts.f32"),
        [ActivationDType.F16] = Path.Combine(directory, "acts.f16"),
        [ActivationDType.BF16] = Path.Combine(directory, "acts.bf16"),
    };

    /// <summary>Trains and writes every state and the loader files (the parent, once per run).</summary>
    public void Prepare(int threads, TextWriter log)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        void Save(State s, WarmState w)
        {
            w.Save(StateDirectory(s));
            log.WriteLine($"setup: {s} after {w.Steps} steps, L0 {w.L0:F1} ({clock.Elapsed.TotalSeconds:F1} s)");
        }
        var spec = SuiteShape.Spec;
        Save(State.GbaSettled, WarmState.Train(SuiteShape.Options(TrainingMethod.Gba, threads), SuiteShape.Dim, spec, SuiteShape.SettledSteps)[0]);
        var quantile = SuiteShape.Options(TrainingMethod.Gba, threads, BiasInitialization.Quantile);
        Save(State.GbaEarlyQuantile, WarmState.Train(quantile, SuiteShape.Dim, spec, SuiteShape.EarlySteps)[0]);
        Save(State.TopK, WarmState.Train(SuiteShape.Options(TrainingMethod.TopK, threads), SuiteShape.Dim, spec, SuiteShape.BaselineSteps)[0]);
        Save(State.BatchTopK, WarmState.Train(SuiteShape.Options(TrainingMethod.BatchTopK, threads), SuiteShape.Dim, spec, SuiteShape.BaselineSteps)[0]);
        LoaderEntry.WriteFiles(LoaderFiles);
        log.WriteLine($"setup: loader files ({clock.Elapsed.TotalSeconds:F1} s)");
    }

    /// <summary>A state <see cref="Prepare"/> wrote.</summary>
    public WarmState Load(State s)
    {
        var dir = StateDirectory(s);
        var latest = new GbaEngine.Checkpoints.CheckpointStore(dir).LoadLatest();
        return WarmState.Load(latest.Directory);
    }
}
