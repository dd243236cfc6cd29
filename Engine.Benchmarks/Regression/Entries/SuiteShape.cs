using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Regression.Entries;

/// <summary>
/// The fixed workload of the regression suite. An SAE of d = 256 and M = 8192 (expansion 32) trained
/// on the paper's synthetic model (n = 4d features, 16 active per token) in batches of 512 tokens:
/// the same code paths as the d = 768, M = 16384 runs, at a size where one step costs ~2 GFLOP, so a
/// quick run finishes in minutes even on the scalar kernels. Two GBA states: settled from the default
/// edge bias start (L0 near 0.04% of M), and early from the quantile start (L0 near 2.5% of M, where
/// the sparse passes cost most). Changing any number here changes what every result means: give the
/// entries new names instead.
/// </summary>
internal static class SuiteShape
{
    public const int Dim = 256;
    public const int Neurons = 8192;
    public const int Batch = 512;
    public const ulong DataSeed = 7;
    /// <summary>Warm-up steps to the settled state (edge bias start): L0 rises from below one entry per token
    /// and sits near 3.3 (0.04% of M) by step 200.</summary>
    public const int SettledSteps = 200;
    /// <summary>Warm-up steps to the early state (quantile bias start): JIT and buffers warmed, still far from
    /// the first bias update (one per 25,600 tokens), so L0 is the start's, about 2.5% of M.</summary>
    public const int EarlySteps = 2;
    /// <summary>Warm-up of the TopK and BatchTopK trainers (their L0 is k by construction).</summary>
    public const int BaselineSteps = 20;
    public const int K = 32;
    /// <summary>Distinct batches replayed from memory while timing, so no sample times data generation.</summary>
    public const int ReplayBatches = 8;

    public static SyntheticSpec Spec => new(Features: 4 * Dim, Dim: Dim, Sparsity: 16);

    /// <summary>Trainer defaults but for the shape, the method, the bias start, fewer initialisation tokens
    /// (8192: a start over 25,600 tokens would be the costliest part of setting a trainer up) and tied weights for every
    /// method: the recorded suites timed tied TopK and BatchTopK, which have been untied by default since issue 11.</summary>
    public static TrainerOptions Options(TrainingMethod method, int threads, BiasInitialization biasInit = BiasInitialization.Edge) => new()
    {
        Method = method, Neurons = Neurons, BatchSize = Batch, Threads = threads, K = K, EvalEvery = 0,
        InitTokens = 8192, Tokens = (long)Batch * 1_000_000, BiasInit = biasInit, Tied = true,
    };

    /// <summary>The tokens replayed while timing: <see cref="ReplayBatches"/> batches from their own stream.</summary>
    public static float[] ReplayTokens()
    {
        var tokens = new float[(long)Batch * ReplayBatches * Dim];
        using var stream = new SyntheticModel(Spec, DataSeed).OpenStream(3);
        stream.NextBatch(tokens, Batch * ReplayBatches);
        return tokens;
    }
}
