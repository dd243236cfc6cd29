using GbaEngine.Evaluation;
using GbaEngine.Inference;
using GbaEngine.Onnx.Graph;
using GbaEngine.Onnx.Runtime;
using GbaEngine.Onnx.Tokens;
using Onnx;

namespace GbaEngine.Onnx.Evaluation;

/// <summary>What replaces the hook for the ablated baseline.</summary>
public enum Ablation
{
    /// <summary>Zeros.</summary>
    Zero,
    /// <summary>The hook's mean over every evaluated token (one extra clean pass first).</summary>
    Mean,
}

/// <summary>
/// The model's next-token loss three ways, and what the SAE keeps of it. CE is the mean over every sequence of
/// positions 0..T-2 predicting tokens 1..T-1 (natural log); KL is the mean over every position (all T) of
/// KL(p_clean ‖ p_other) summed over the vocabulary. Loss recovered is SAELens' score,
/// (CE_ablated − CE_spliced) / (CE_ablated − CE_clean): 1 when the reconstruction is as good as the activation,
/// 0 when it is as bad as the ablation. <paramref name="AtHook"/> is the SAE measured at the hook on the same tokens by
/// the engine's <see cref="Evaluator"/> (FVU, MSE, L0, dead fraction, as `gba eval --data` reports them); null for the
/// identity splice, which has no SAE.
/// </summary>
public sealed record LossRecoveredResult(string Hook, string Logits, long Sequences, long Tokens, double CeClean, double CeSpliced, double CeAblated,
    double KlSpliced, double KlAblated, Ablation Ablation, EvaluationMetrics? AtHook, double Seconds)
{
    /// <summary>(CE_ablated − CE_spliced) / (CE_ablated − CE_clean).</summary>
    public double LossRecovered => (CeAblated - CeSpliced) / (CeAblated - CeClean);

    /// <summary>The SAE's fraction of variance unexplained at the hook; 0 for the identity splice (the reconstruction is the activation).</summary>
    public double Fvu => AtHook?.Fvu ?? 0;
}

/// <summary>
/// Splices an SAE's reconstruction into a model at one hook and measures the loss. The model is cut in two at the
/// hook: the first part is the file's graph with the logits and the hook as outputs (one clean run gives both), the
/// second is the graph in which the hook is an input (<see cref="OnnxGraph.Splice"/>), pruned to what the logits
/// need from there. Each batch runs the first part once and the second twice: with the reconstruction, and with
/// the ablation. The SAE's own metrics at the hook then come from the engine's evaluator over the hook's values,
/// which a third session, the graph pruned to the hook, computes again (two passes: the mean, then the errors).
/// </summary>
public static class SpliceEvaluator
{
    /// <summary>The output that holds the logits: <paramref name="name"/> when given, else the one output whose last axis is the vocabulary.</summary>
    public static string FindLogits(OnnxGraph graph, string? name, long? vocabulary)
    {
        if (name is not null)
        {
            if (graph.Outputs.Any(o => o.Name == name) || graph.HasTensor(name)) return name;
            throw new InvalidDataException($"{graph.Path}: no output or tensor named '{name}' (--logits); outputs are {string.Join(", ", graph.Outputs.Select(o => o.Name))}.");
        }
        var byVocab = vocabulary is { } v ? graph.Outputs.Where(o => OnnxGraph.LastAxis(o) == v).ToList() : [];
        if (byVocab.Count == 1) return byVocab[0].Name;
        if (graph.Outputs.Count == 1) return graph.Outputs[0].Name;
        throw new InvalidDataException($"{graph.Path}: cannot tell which output holds the logits (outputs: {string.Join(", ", graph.Outputs.Select(o => o.Name))}); name it with --logits.");
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> through the model clean, with <paramref name="hook"/> replaced by
    /// <paramref name="sae"/>'s reconstruction, and ablated. Null <paramref name="sae"/> splices the hook's own value
    /// (a check of the cut: loss recovered 1, KL 0).
    /// </summary>
    public static LossRecoveredResult Evaluate(string modelPath, string hook, TokenSequences tokens, SaeModel? sae, string? logitsName = null,
        Ablation ablation = Ablation.Zero, int batch = 8, int threads = 1, IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (tokens.Length < 2) throw new ArgumentException($"{tokens.Source}: sequences of {tokens.Length} token hold no next-token prediction: loss needs at least 2.");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var graph = OnnxGraph.Load(modelPath);
        if (!graph.HasTensor(hook)) throw graph.MissingTensor(hook);
        long? vocabulary = graph.Vocabulary();
        string logits = FindLogits(graph, logitsName, vocabulary);
        if (vocabulary is { } v) tokens.CheckVocabulary(checked((int)v), modelPath);

        LossRecoveredResult result;
        using (var clean = new TokenModelSession(modelPath, graph.WithOutputs([logits, hook]), threads))
        {
            TokenModelSession? cut = null;
            try
            {
                result = Run(clean, () => cut ??= new TokenModelSession(modelPath, graph.Splice(hook, TensorProto.Types.DataType.Float, [logits]), threads, [hook]),
                    modelPath, hook, logits, tokens, sae, ablation, batch, threads, progress, cancel);
            }
            finally
            {
                cut?.Dispose();
            }
        }
        if (sae is not null)
        {
            cancel.ThrowIfCancellationRequested();
            using var prefix = new TokenModelSession(modelPath, graph.WithOutputs([hook]), threads);
            result = result with { AtHook = Evaluator.Evaluate(sae, () => new HookStream(prefix, 0, tokens, batch, sae.Dim), result.Tokens, threads) };
        }
        return result with { Seconds = clock.Elapsed.TotalSeconds };
    }

    static LossRecoveredResult Run(TokenModelSession clean, Func<TokenModelSession> openCut, string modelPath, string hook, string logits,
        TokenSequences tokens, SaeModel? sae, Ablation ablation, int batch, int threads, IProgress<long>? progress, CancellationToken cancel)
    {
        int T = tokens.Length;
        float[]? mean = ablation == Ablation.Mean ? HookMean(clean, tokens, batch) : null;

        double ceClean = 0, ceSpliced = 0, ceAblated = 0, klSpliced = 0, klAblated = 0;
        long predictions = 0, positions = 0;
        float[]? recon = null, ablated = null;
        for (int first = 0; first < tokens.Rows; first += batch)
        {
            cancel.ThrowIfCancellationRequested();
            int rows = Math.Min(batch, tokens.Rows - first);
            var ids = tokens.Ids.AsSpan(first * T, rows * T);
            using var c = clean.Run(ids, rows, T);
            // The cut model takes the reconstruction as float32; a float16 or bfloat16 hook would need its own feed.
            if (c.ElementType(1) != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float)
                throw new NotSupportedException($"{modelPath}: hook '{hook}' is {c.ElementType(1).ToString().ToLowerInvariant()}: splicing supports float32 hooks only.");
            var cut = openCut();
            var hookValues = c.Floats(1);
            int d = c.TokenWidth(1, rows, T);
            if (sae is not null && sae.Dim != d)
                throw new InvalidDataException($"{sae.Source ?? "the SAE"}: d_in = {sae.Dim}, but hook '{hook}' of {modelPath} has d = {d}.");
            int n = rows * T * d;
            if (recon is null || recon.Length != n) { recon = new float[n]; ablated = new float[n]; }
            if (sae is null) hookValues.CopyTo(recon);
            else sae.ReconstructBatch(hookValues, rows * T, recon, threads);
            if (mean is null) Array.Clear(ablated!);
            else for (int i = 0; i < n; i += d) mean.CopyTo(ablated!, i);

            var cleanLogits = c.Floats(0);
            int V = (int)c.Shape(0)[^1];
            CheckLogits(c.Shape(0), rows, T, logits, modelPath);
            var hookShape = c.Shape(1);
            using var s = cut.Run(ids, rows, T, [(recon, hookShape)]);
            using var a = cut.Run(ids, rows, T, [(ablated!, hookShape)]);
            var sums = Compare(cleanLogits, [s.Floats(0).ToArray(), a.Floats(0).ToArray()], ids, rows, T, V);
            ceClean += sums.CeClean; ceSpliced += sums.Ce[0]; ceAblated += sums.Ce[1]; klSpliced += sums.Kl[0]; klAblated += sums.Kl[1];
            predictions += (long)rows * (T - 1);
            positions += (long)rows * T;
            progress?.Report(positions);
        }
        return new LossRecoveredResult(hook, logits, tokens.Rows, positions, ceClean / predictions, ceSpliced / predictions, ceAblated / predictions,
            klSpliced / positions, klAblated / positions, ablation, null, 0);
    }

    static float[] HookMean(TokenModelSession clean, TokenSequences tokens, int batch)
    {
        double[]? sum = null;
        int T = tokens.Length;
        for (int first = 0; first < tokens.Rows; first += batch)
        {
            int rows = Math.Min(batch, tokens.Rows - first);
            using var c = clean.Run(tokens.Ids.AsSpan(first * T, rows * T), rows, T);
            int d = c.TokenWidth(1, rows, T);
            sum ??= new double[d];
            var h = c.Floats(1);
            for (int i = 0; i < h.Length; i++) sum[i % d] += h[i];
        }
        long count = (long)tokens.Rows * T;
        return sum!.Select(x => (float)(x / count)).ToArray();
    }

    static void CheckLogits(long[] shape, int rows, int T, string name, string model)
    {
        if (shape.Length != 3 || shape[0] != rows || shape[1] != T)
            throw new InvalidDataException($"{model}: output '{name}' has shape [{string.Join(", ", shape)}] for {rows} × {T} tokens: logits must be [{rows}, {T}, vocabulary] (--logits).");
    }

    /// <summary>Sums over a batch: CE of the clean and of each other logits (positions 0..T-2), and KL(clean ‖ other) over all positions.</summary>
    internal static (double CeClean, double[] Ce, double[] Kl) Compare(ReadOnlySpan<float> clean, IReadOnlyList<float[]> others, ReadOnlySpan<long> ids, int rows, int T, int V)
    {
        double ceClean = 0;
        var ce = new double[others.Count];
        var kl = new double[others.Count];
        var p = new double[V];
        var q = new double[V];
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < T; t++)
            {
                int at = (r * T + t) * V;
                LogSoftmax(clean.Slice(at, V), p);
                long target = t + 1 < T ? ids[r * T + t + 1] : -1;
                if (target >= 0) ceClean -= p[target];
                for (int o = 0; o < others.Count; o++)
                {
                    LogSoftmax(others[o].AsSpan(at, V), q);
                    double sum = 0;
                    for (int v = 0; v < V; v++) sum += Math.Exp(p[v]) * (p[v] - q[v]);
                    kl[o] += sum;
                    if (target >= 0) ce[o] -= q[target];
                }
            }
        return (ceClean, ce, kl);
    }

    static void LogSoftmax(ReadOnlySpan<float> logits, double[] into)
    {
        double max = double.NegativeInfinity;
        foreach (var x in logits) max = Math.Max(max, x);
        double sum = 0;
        foreach (var x in logits) sum += Math.Exp(x - max);
        double log = max + Math.Log(sum);
        for (int v = 0; v < logits.Length; v++) into[v] = logits[v] - log;
    }
}
