using System.Diagnostics;
using GbaEngine.Activations;
using GbaEngine.Benchmarks.Regression.Entries;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression;

/// <summary>
/// The fixed, seeded regression suite. Its entry names never change meaning: a name stands for one
/// workload (shape, data, state), and a changed workload gets a new name.
/// </summary>
internal static class RegressionSuite
{
    public const string Name = "regression";

    /// <summary>Builds and warms up every entry; files go under <paramref name="directory"/>.</summary>
    public static List<RegressionEntry> Build(int threads, string directory, TextWriter log)
    {
        var entries = new List<RegressionEntry>();
        var clock = Stopwatch.StartNew();
        void Done(string what) => log.WriteLine($"setup: {what} ({clock.Elapsed.TotalSeconds:F1} s)");
        try
        {
            var spec = SuiteShape.Spec;
            var replay = SuiteShape.ReplayTokens();
            WarmState Warm(TrainingMethod method, int steps)
            {
                var s = new WarmState(SuiteShape.Options(method, threads), SuiteShape.Dim, spec, steps);
                Done($"{method} trained {steps} steps, L0 {s.FirstL0:F1} -> {s.L0:F1}");
                return s;
            }
            var settled = Warm(TrainingMethod.Gba, SuiteShape.SettledSteps);
            var early = Warm(TrainingMethod.Gba, SuiteShape.EarlySteps);
            var topK = Warm(TrainingMethod.TopK, SuiteShape.BaselineSteps);
            var batchTopK = Warm(TrainingMethod.BatchTopK, SuiteShape.BaselineSteps);

            // SGEMM at the suite's training shape and at the width of a production SAE (d = 768,
            // M = 16384) with an inference-sized batch.
            entries.Add(new SgemmEntry(SuiteShape.Batch, SuiteShape.Dim, SuiteShape.Neurons, threads));
            entries.Add(new SgemmEntry(64, 768, 16384, threads));
            entries.Add(new FusedEncoderEntry(settled, replay, threads));
            entries.Add(new TrainingStepEntry("gba-step/settled", settled, replay, threads));
            entries.Add(new TrainingStepEntry("gba-step/early", early, replay, threads));
            entries.Add(new TrainingStepEntry("topk-step", topK, replay, threads));
            entries.Add(new TrainingStepEntry("batchtopk-step", batchTopK, replay, threads));
            entries.Add(new EncodeBatchEntry(settled, replay, threads));
            Done("compute entries");

            var files = LoaderEntry.WriteFiles(directory);
            foreach (var type in new[] { ActivationDType.F32, ActivationDType.F16, ActivationDType.BF16 })
                entries.Add(new LoaderEntry(type, files[type]));
            var write = new CheckpointWriteEntry(settled, Path.Combine(directory, "checkpoints"));
            entries.Add(write);
            entries.Add(new CheckpointReadEntry(write.Written, write.Bytes));
            Done("loader files and checkpoint");
            return entries;
        }
        catch
        {
            foreach (var e in entries) e.Dispose();
            throw;
        }
    }
}
