using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Evaluation;
using GbaEngine.Model;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Training;
using GbaEngine.Encoders;
using GbaEngine.Rng;

namespace GbaEngine.Cli.Experiments;

/// <summary>A synthetic problem: the generator and its fixed evaluation set (every method sees the same data).</summary>
public sealed class SyntheticProblem
{
    public SyntheticProblem(SyntheticSpec spec, ulong seed, int evalTokens)
    {
        Model = new SyntheticModel(spec, seed);
        using var evalStream = Model.OpenStream(2);
        Eval = EvaluationSet.FromStream(evalStream, evalTokens, Model.Features, Model.Frequencies);
    }

    public SyntheticModel Model { get; }
    public EvaluationSet Eval { get; }
    public SyntheticSpec Spec => Model.Spec;
    /// <summary>The (uniform) feature frequency f = E[s]/n.</summary>
    public double Frequency => Spec.MeanSparsity / Spec.Features;

    public string Describe() => Model.OpenStream(1).Describe();
}

/// <summary>One synthetic problem drawn per seed (so the spread over seeds covers the data as well as the start).</summary>
public sealed class SyntheticProblems(SyntheticSpec spec, int evalTokens)
{
    readonly Dictionary<ulong, SyntheticProblem> _bySeed = [];

    public SyntheticSpec Spec { get; } = spec;

    public SyntheticProblem Get(ulong seed) => _bySeed.TryGetValue(seed, out var p) ? p : _bySeed[seed] = new SyntheticProblem(Spec, seed, evalTokens);

    /// <summary>A fresh training stream and the evaluation set of the problem drawn with <paramref name="seed"/>.</summary>
    public (ITokenStream Train, EvaluationSet Eval) Data(ulong seed) => (Get(seed).Model.OpenStream(1), Get(seed).Eval);
}

/// <summary>Real activations (by default the shared USE-Lite residual stream): a training stream per seed and a held-out set.</summary>
public sealed class RealData : IDisposable
{
    public const string DefaultFile = "use-lite-moby-resid1-40k.f16.npy";
    readonly ActivationDataset _dataset;

    public RealData(string path, long? rowLimit, int evalRows)
    {
        Path = path;
        _dataset = ActivationDataset.Open(path, new LoaderOptions { RowLimit = rowLimit, EvalRows = evalRows });
        using var evalStream = _dataset.OpenEvalStream();
        Eval = EvaluationSet.FromStream(evalStream, (int)_dataset.EvalRows);
    }

    public string Path { get; }
    public EvaluationSet Eval { get; }
    public int Dim => _dataset.Dim;
    public long TrainRows => _dataset.TrainRows;

    public ITokenStream TrainStream(ulong seed) => _dataset.OpenStream(seed);

    public string Describe() => _dataset.Describe();

    /// <summary>The explicit path, or shared/data/FILE found above the working directory or the tool.</summary>
    public static string Locate(string? path)
    {
        if (path != null) return path;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "shared", "data", DefaultFile);
                if (File.Exists(candidate)) return candidate;
            }
        throw new FileNotFoundException($"shared/data/{DefaultFile} not found above {Directory.GetCurrentDirectory()}; give the activations with --data FILE.");
    }

    public void Dispose() => _dataset.Dispose();
}

/// <summary>Training and measuring, with one progress line per run on the log.</summary>
public static class ExperimentRuns
{
    static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>How each method's SAE is built, as every report's data line says it.</summary>
    public const string SaeForm = "tied (TopK and BatchTopK untied, their default)";

    /// <summary>Options shared by every run of an experiment; methods then change what they need.</summary>
    public static TrainerOptions Base(ExperimentContext ctx, int neurons, int steps, int batch, double lr, int initTokens = 25_600) => new()
    {
        Neurons = neurons,
        BatchSize = batch,
        Tokens = (long)batch * steps,
        LearningRate = lr,
        Threads = ctx.Threads,
        Seed = ctx.Seed,
        EvalEvery = 0,
        // Every run records a learning curve: FRR, FVU, L0 and dead fraction at log-spaced token counts.
        EvalPoints = ctx.Pick(8, 24),
        InitTokens = initTokens,
        Kernels = ctx.Kernels,
    };

    /// <summary>
    /// Trains <paramref name="method"/> once per seed (and per thread count, when given), each seed on its own draw of
    /// the problem (<paramref name="data"/> gives a fresh training stream and the evaluation set for a seed).
    /// </summary>
    public static MethodRuns RunSeeds(ExperimentContext ctx, string label, MethodSpec method, TrainerOptions options, int seeds,
        Func<ulong, (ITokenStream Train, EvaluationSet Eval)> data, IReadOnlyList<int>? threads = null)
    {
        var runs = new MethodRuns(label, method);
        foreach (ulong seed in ctx.SeedList(seeds))
            foreach (int t in threads ?? [options.Threads])
            {
                var (train, eval) = data(seed);
                var r = Train(ctx, string.Create(Ci, $"{label} seed {seed}{(threads is null ? "" : $" threads {t}")}"),
                    method.Configure(options) with { Seed = seed, Threads = t }, train, eval);
                runs.Runs.Add(new SeedRun(seed, t, r));
            }
        return runs;
    }

    public static TrainingResult Train(ExperimentContext ctx, string label, TrainerOptions options, ITokenStream train, EvaluationSet eval)
    {
        ctx.Log.Write($"  {label}: ");
        ctx.Log.Flush();
        try
        {
            using var trainer = new SaeTrainer(options, train.Dim);
            var r = trainer.Train(train, eval);
            var m = r.Final;
            ctx.Log.WriteLine(string.Create(Ci, $"{(m.Frr08 is { } f ? $"FRR@0.8 {f:F3} FRR@0.9 {m.Frr09:F3} " : "")}FVU {m.Fvu:F4} L0 {m.L0:F2} dead {m.DeadFraction:F3} ({r.Seconds:F1} s)"));
            return r;
        }
        finally { train.Dispose(); }
    }

    /// <summary>FRR of an untrained dictionary of M Gaussian directions: the chance level of the recovery metric.</summary>
    public static (double Frr08, double Frr09) ChanceRecovery(SyntheticProblem problem, int neurons, ulong seed, Kernels.KernelSet? kernels)
    {
        int d = problem.Spec.Dim;
        var rng = Xoshiro256.Derive(seed, 0xC4A9);
        var w = new float[(long)neurons * d];
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextGaussian();
        var best = FeatureRecovery.BestCosines(problem.Model.Features, problem.Spec.Features, w, neurons, d, d, kernels: kernels);
        return (FeatureRecovery.Rate(best, 0.8), FeatureRecovery.Rate(best, 0.9));
    }

    /// <summary>The final metrics of a run as JSON (for NAME.json).</summary>
    public static JsonObject Metrics(TrainingResult r, string method, string setting)
    {
        var m = r.Final;
        return new JsonObject
        {
            ["method"] = method, ["setting"] = setting,
            ["frr_0_8"] = m.Frr08, ["frr_0_9"] = m.Frr09, ["fvu"] = m.Fvu, ["l0"] = m.L0,
            ["fraction_active"] = m.FractionActive, ["dead_fraction"] = m.DeadFraction,
            ["tokens"] = r.Tokens, ["seconds"] = Math.Round(r.Seconds, 2),
            // The learning curve, so a reader can see whether the run had flattened at its budget.
            ["curve"] = new JsonArray(r.Evaluations.Select(e => (JsonNode)new JsonObject
            {
                ["tokens"] = e.Tokens, ["frr_0_8"] = e.Metrics.Frr08, ["frr_0_9"] = e.Metrics.Frr09, ["fvu"] = e.Metrics.Fvu,
                ["l0"] = e.Metrics.L0, ["dead_fraction"] = e.Metrics.DeadFraction,
            }).ToArray()),
        };
    }
}
