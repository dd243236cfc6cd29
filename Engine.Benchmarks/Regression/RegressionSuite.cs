using System.Diagnostics;
using GbaEngine.Activations;
using GbaEngine.Benchmarks.Regression.Entries;
using GbaEngine.Formats;

namespace GbaEngine.Benchmarks.Regression;

/// <summary>
/// The fixed, seeded regression suite. Its entry names never change meaning: a name stands for one
/// workload (shape, data, state), and a changed workload gets a new name.
/// </summary>
internal static class RegressionSuite
{
    public const string Name = "regression";

    /// <summary>Every entry name, in the suite's order. Retired, never to be reused: "gba-step/early" (2 steps from
    /// the edge bias start, whose L0 is lower than the settled one's; "gba-step/early-quantile" is the early state).</summary>
    public static readonly string[] Names =
    [
        "sgemm/512x256x8192", "sgemm/64x768x16384", "fused-encoder/gba-settled", "gba-step/settled", "gba-step/early-quantile",
        "topk-step", "batchtopk-step", "sae-model/encode-batch", "loader/f32", "loader/f16", "loader/bf16",
        "checkpoint/write", "checkpoint/read",
    ];

    /// <summary>Builds the entries <paramref name="include"/> selects (all by default), in the suite's order,
    /// from the states and files <paramref name="files"/> holds;
    /// checkpoints are written under <paramref name="scratch"/>.</summary>
    public static List<RegressionEntry> Build(int threads, SuiteFiles files, string scratch, TextWriter log, Func<string, bool>? include = null)
    {
        include ??= _ => true;
        var entries = new List<RegressionEntry>();
        CheckpointWriteEntry? write = null;
        var clock = Stopwatch.StartNew();
        try
        {
            var replay = SuiteShape.ReplayTokens();
            var states = new Dictionary<SuiteFiles.State, WarmState>();
            WarmState State(SuiteFiles.State s) => states.TryGetValue(s, out var w) ? w : states[s] = files.Load(s);
            CheckpointWriteEntry Write() => write ??= new CheckpointWriteEntry(State(SuiteFiles.State.GbaSettled), Path.Combine(scratch, "checkpoints"));

            foreach (var name in Names.Where(include))
            {
                entries.Add(name switch
                {
                    // SGEMM at the suite's training shape and at the width of a production SAE (d = 768,
                    // M = 16384) with an inference-sized batch.
                    "sgemm/512x256x8192" => new SgemmEntry(SuiteShape.Batch, SuiteShape.Dim, SuiteShape.Neurons, threads),
                    "sgemm/64x768x16384" => new SgemmEntry(64, 768, 16384, threads),
                    "fused-encoder/gba-settled" => new FusedEncoderEntry(State(SuiteFiles.State.GbaSettled), replay, threads),
                    "gba-step/settled" => new TrainingStepEntry(name, State(SuiteFiles.State.GbaSettled), replay, threads),
                    "gba-step/early-quantile" => new TrainingStepEntry(name, State(SuiteFiles.State.GbaEarlyQuantile), replay, threads),
                    "topk-step" => new TrainingStepEntry(name, State(SuiteFiles.State.TopK), replay, threads),
                    "batchtopk-step" => new TrainingStepEntry(name, State(SuiteFiles.State.BatchTopK), replay, threads),
                    "sae-model/encode-batch" => new EncodeBatchEntry(State(SuiteFiles.State.GbaSettled), replay, threads),
                    "loader/f32" => new LoaderEntry(ActivationDType.F32, files.LoaderFiles[ActivationDType.F32]),
                    "loader/f16" => new LoaderEntry(ActivationDType.F16, files.LoaderFiles[ActivationDType.F16]),
                    "loader/bf16" => new LoaderEntry(ActivationDType.BF16, files.LoaderFiles[ActivationDType.BF16]),
                    "checkpoint/write" => Write(),
                    "checkpoint/read" => new CheckpointReadEntry(Write().Written, Write().Bytes),
                    _ => throw new InvalidOperationException($"No workload for entry '{name}'."),
                });
                if (entries[^1].Name != name) throw new InvalidOperationException($"Entry '{name}' calls itself '{entries[^1].Name}'.");
            }
            log.WriteLine($"setup: {entries.Count} entries built ({clock.Elapsed.TotalSeconds:F1} s)");
            return entries;
        }
        catch
        {
            foreach (var e in entries) e.Dispose();
            write?.Dispose();
            throw;
        }
    }
}
