using System.Reflection;
using FsCheck;
using FsCheck.Fluent;
using GbaEngine.Checkpoints;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Synthetic;
using GbaEngine.Tests.Activations;
using GbaEngine.Training;

namespace GbaEngine.Tests.Checkpoints;

/// <summary>The on-disk side: every setting survives, damage is detected and skipped, old checkpoints are pruned safely.</summary>
public class CheckpointStoreTests
{
    static readonly SyntheticSpec Spec = new(Features: 32, Dim: 16, Sparsity: 2);

    /// <summary>A GBA run of <paramref name="steps"/> steps checkpointed every <paramref name="every"/> into <paramref name="dir"/>.</summary>
    static CheckpointStore Run(string dir, long steps, long every, int keep = 3)
    {
        var model = new SyntheticModel(Spec, 3);
        var store = new CheckpointStore(dir, keep);
        var o = new TrainerOptions { Neurons = 64, BatchSize = 32, Tokens = 32 * steps, Threads = 1, InitTokens = 256, BufferTokens = 320, EvalEvery = 7, Groups = 2 };
        using var trainer = new SaeTrainer(o, Spec.Dim);
        trainer.Train(model.OpenStream(1), EvaluationSet.FromStream(model.OpenStream(2), 256, model.Features, model.Frequencies),
            checkpoints: new CheckpointSchedule(store, every));
        return store;
    }

    [Fact]
    public void EveryTrainerOptionSurvivesTheStateFile()
    {
        // Every setting differs from its default, so an option added to TrainerOptions but not to the
        // checkpoint format fails here instead of silently resuming with the default.
        var o = new TrainerOptions
        {
            Method = TrainingMethod.TopK, Neurons = 77, Tied = false, Gate = SaeActivation.Relu, K = 5, Groups = 4, Htf = 0.3, Ltf = 0.003,
            Taf = 0.02, GammaPlus = 0.03, GammaMinus = 0.04, DeadEpsilon = 1e-5, BufferTokens = 999, BiasInit = BiasInitialization.Zero, BiasRule = BiasRule.Edge, PreBias = PreBiasMode.Frozen,
            BatchSize = 33, Tokens = 12345, LearningRate = 2e-3, WeightDecay = 0.1, Beta1 = 0.8, Beta2 = 0.99, AdamEpsilon = 1e-7,
            Seed = ulong.MaxValue - 1, Threads = 3, Normalization = InputNormalization.DatasetScale, InitTokens = 100, EvalEvery = 17, EvalPoints = 9,
            L1Coefficient = 0.7, L1Warmup = 0.2, L0Coefficient = 0.3, SteBandwidth = 0.01, InitialThreshold = 0.02, ThresholdDecay = 0.9, MpSteps = 7,
            LrWarmup = 0.05, LrSchedule = LearningRateDecay.Cosine, LrDecayStart = 0.5, AuxK = 9, AuxKCoefficient = 0.5, DeadTokens = 4321,
            ResampleEvery = 250, EncoderStart = EncoderStart.Decoder,
        };
        var defaults = new TrainerOptions();
        // Kernels is not part of the options' JSON (a run records its kernel set apart, and a resume may change it).
        foreach (var p in typeof(TrainerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
                     .Where(p => p.CanWrite && p.Name != nameof(TrainerOptions.Kernels)))
            Assert.False(Equals(p.GetValue(o), p.GetValue(defaults)), $"set {p.Name} to a non-default value in this test");
        var back = TrainerOptionsJson.Read(TrainerOptionsJson.Write(o), "test");
        Assert.Equal(o, back);
    }

    [Fact]
    public void KeepsTheNewestKAndWritesNothingHalfway()
    {
        using var dir = new TempDir();
        var store = Run(dir.Path, steps: 50, every: 10, keep: 2);
        Assert.Equal(new long[] { 50, 40 }, store.List().Select(c => c.Step));
        Assert.Empty(Directory.GetDirectories(dir.Path, ".*"));
        Assert.Equal(Path.Combine(dir.Path, "step-000000050"), store.LastWritten);
        foreach (var (step, path) in store.List())
        {
            Assert.Equal(["manifest.json", "state.json", "tensors.safetensors"], Directory.GetFiles(path).Select(Path.GetFileName).Order());
            Assert.Equal(step, CheckpointStore.Load(path).Step);
        }
        var last = CheckpointStore.Load(store.LastWritten!);
        Assert.Equal(new long[] { 7, 14, 21, 28, 35, 42, 49, 50 }, last.Evaluations.Select(e => e.Step));

        // A writer killed mid-checkpoint leaves a hidden temporary directory: never listed, removed by the next write.
        var stale = Directory.CreateDirectory(Path.Combine(dir.Path, ".tmp-step-000000060-1-x")).FullName;
        File.WriteAllText(Path.Combine(stale, "state.json"), "{");
        Assert.Equal(50, store.LoadLatest().Checkpoint.Step);
        Run(Path.Combine(dir.Path), steps: 20, every: 10, keep: 2);
        Assert.False(Directory.Exists(stale));
        // The run above restarted at step 0: its checkpoints replace the later ones of the earlier history.
        Assert.Equal(new long[] { 20, 10 }, new CheckpointStore(dir.Path).List().Select(c => c.Step));
    }

    [Fact]
    public void DamagedNewestCheckpointFallsBackToThePreviousWithItsReason()
    {
        using var dir = new TempDir();
        var store = Run(dir.Path, steps: 30, every: 10);
        string newest = Path.Combine(dir.Path, "step-000000030");

        Flip(Path.Combine(newest, "tensors.safetensors"), (int)new FileInfo(Path.Combine(newest, "tensors.safetensors")).Length - 10);   // in adam_m2
        var loaded = store.LoadLatest();
        Assert.Equal(20, loaded.Checkpoint.Step);
        Assert.Contains(Path.Combine(newest, "tensors.safetensors"), Assert.Single(loaded.Skipped));
        Assert.Contains("SHA-256", loaded.Skipped[0]);

        Truncate(Path.Combine(dir.Path, "step-000000020", "state.json"), 100);
        loaded = store.LoadLatest();
        Assert.Equal(10, loaded.Checkpoint.Step);
        Assert.Equal(2, loaded.Skipped.Count);
        Assert.Contains("state.json: 100 bytes, the manifest says", loaded.Skipped[1]);

        File.Delete(Path.Combine(dir.Path, "step-000000010", "manifest.json"));
        var e = Assert.Throws<InvalidDataException>(() => store.LoadLatest());
        Assert.StartsWith($"{dir.Path}: no loadable checkpoint: ", e.Message);
        Assert.Contains(Path.Combine(newest, "tensors.safetensors"), e.Message);
        Assert.Contains(Path.Combine(dir.Path, "step-000000020", "state.json"), e.Message);
        Assert.Contains(Path.Combine(dir.Path, "step-000000010", "manifest.json") + ": missing", e.Message);

        Assert.Contains("no checkpoints", Assert.Throws<InvalidDataException>(() => new CheckpointStore(Path.Combine(dir.Path, "none")).LoadLatest()).Message);
    }

    [Fact]
    public void AnySingleCorruptionIsDetectedOrHarmless()
    {
        using var dir = new TempDir();
        var store = Run(dir.Path, steps: 20, every: 10, keep: 2);
        string newest = Path.Combine(dir.Path, "step-000000020");
        var files = new[] { "tensors.safetensors", "state.json", "manifest.json" };
        var pristine = files.ToDictionary(f => f, f => File.ReadAllBytes(Path.Combine(newest, f)));
        var reference = CheckpointStore.Load(newest);

        // Flip bits at a random offset of a random file, or cut it short: the newest checkpoint either
        // loads with exactly its original content (e.g. a changed space in the manifest) or is skipped.
        var damage = Gen.Choose(0, files.Length - 1).SelectMany(f => Gen.Choose(0, pristine[files[f]].Length - 1).SelectMany(at =>
            Gen.Choose(0, 255).Select(mask => (File: files[f], At: at, Mask: mask))));
        Prop.ForAll(damage.ToArbitrary(), d =>
        {
            var bytes = (byte[])pristine[d.File].Clone();
            if (d.Mask == 0) Array.Resize(ref bytes, d.At);
            else bytes[d.At] ^= (byte)d.Mask;
            File.WriteAllBytes(Path.Combine(newest, d.File), bytes);
            try
            {
                var loaded = store.LoadLatest();
                if (loaded.Checkpoint.Step == 20)
                {
                    Assert.Empty(loaded.Skipped);
                    TestFiles.AssertBitsEqual(reference.Parameters.Span, loaded.Checkpoint.Parameters.Span);
                    TestFiles.AssertBitsEqual(reference.Moment2.Span, loaded.Checkpoint.Moment2.Span);
                    Assert.Equal(reference.Stream, loaded.Checkpoint.Stream);
                }
                else
                {
                    Assert.Equal(10, loaded.Checkpoint.Step);
                    Assert.Contains(newest, Assert.Single(loaded.Skipped));
                }
            }
            finally { File.WriteAllBytes(Path.Combine(newest, d.File), pristine[d.File]); }
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(150));
    }

    static void Flip(string path, int at)
    {
        var b = File.ReadAllBytes(path);
        b[at] ^= 0x10;
        File.WriteAllBytes(path, b);
    }

    static void Truncate(string path, int length)
    {
        using var fs = new FileStream(path, FileMode.Open);
        fs.SetLength(length);
    }
}
