using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Encoders;

namespace GbaEngine.Evaluation;

/// <summary>
/// Runs an SAE over an evaluation set and computes every metric of spec/gba.md §5 on the original
/// scale. Uses the same encoder and decoder as training, in chunks, so memory is bounded by the chunk.
/// </summary>
public static class Evaluator
{
    const int Chunk = 1024;

    /// <param name="groups">GBA groups (group of each neuron and their TAFs), if the run has them.</param>
    public static EvaluationMetrics Evaluate(SparseAutoencoder sae, EvaluationSet set, NeuronGroups? groups, int threads)
    {
        if (set.Dim != sae.Dim) throw new ArgumentException($"Evaluation data has d = {set.Dim}, the SAE expects d = {sae.Dim}.");
        var p = sae.Parameters;
        int d = sae.Dim, stride = p.Stride, n = set.Count, m = sae.Neurons;
        using var pursuit = sae.Architecture.Sparsity == SparsityMode.MatchingPursuit ? new MatchingPursuitEncoder(sae.Architecture, p, Chunk, threads) : null;
        using var encoder = pursuit is null ? new BatchEncoder(sae.Architecture, p, Chunk, threads) : null;
        var code = new SparseCode();
        var stats = new FiringStatistics(m);
        var x = new AlignedArray((long)Chunk * stride);
        var factors = new float[Chunk];
        var xhat = new float[stride];

        var mean = new double[d];
        for (int t = 0; t < n; t++)
            for (int j = 0; j < d; j++) mean[j] += set.Tokens[(long)t * d + j];
        for (int j = 0; j < d; j++) mean[j] /= Math.Max(1, n);

        double sse = 0, sst = 0;
        long active = 0;
        for (int start = 0; start < n; start += Chunk)
        {
            int rows = Math.Min(Chunk, n - start);
            var xs = x.Span;
            sae.NormalizeBatch(set.Tokens.AsSpan(start * d, rows * d), rows, xs, factors);
            if (pursuit != null) pursuit.Encode(x, rows, code, stats);
            else encoder!.Encode(x, rows, code, stats);
            active += code.Count;
            for (int t = 0; t < rows; t++)
            {
                SparseDecoder.Reconstruct(p, code.Indices(t), code.Values(t), xhat);
                var xt = xs.Slice(t * stride, d);
                var orig = set.Tokens.AsSpan((start + t) * d, d);
                double e2 = 0, c2 = 0;
                for (int j = 0; j < d; j++)
                {
                    double e = xhat[j] - xt[j];
                    e2 += e * e;
                    double c = orig[j] - mean[j];
                    c2 += c * c;
                }
                sse += e2 * factors[t] * factors[t];
                sst += c2;
            }
        }

        float[]? best = null;
        if (set.GroundTruth is { } truth)
        {
            best = FeatureRecovery.BestCosines(truth, truth.Length / d, p.Decoder, m, d, stride, threads);
        }

        var hist = new int[(int)(-EvaluationMetrics.HistogramMinLog10 / EvaluationMetrics.HistogramBinWidth) + 1];
        int dead = 0;
        for (int k = 0; k < m; k++)
        {
            if (stats.FireCount[k] == 0) { dead++; continue; }
            double lg = Math.Log10(stats.Frequency(k));
            int bin = (int)Math.Floor((lg - EvaluationMetrics.HistogramMinLog10) / EvaluationMetrics.HistogramBinWidth);
            hist[Math.Clamp(bin, 0, hist.Length - 1)]++;
        }

        return new EvaluationMetrics
        {
            Tokens = n,
            Mse = n == 0 ? 0 : sse / ((double)n * d),
            Fvu = sst > 0 ? sse / sst : double.NaN,
            L0 = n == 0 ? 0 : (double)active / n,
            FractionActive = n == 0 ? 0 : (double)active / n / m,
            DeadFraction = (double)dead / m,
            FrequencyHistogram = hist,
            Groups = groups is null ? [] : GroupFrequencies(groups, stats),
            Frr08 = best is null ? null : FeatureRecovery.Rate(best, 0.8),
            Frr09 = best is null ? null : FeatureRecovery.Rate(best, 0.9),
            BestCosines = best,
        };
    }

    static GroupFrequency[] GroupFrequencies(NeuronGroups groups, FiringStatistics stats)
    {
        var result = new GroupFrequency[groups.Count];
        for (int g = 0; g < groups.Count; g++)
        {
            var freqs = Enumerable.Range(0, groups.GroupOf.Length).Where(k => groups.GroupOf[k] == g).Select(stats.Frequency).OrderBy(f => f).ToArray();
            double median = freqs.Length == 0 ? 0 : freqs.Length % 2 == 1 ? freqs[freqs.Length / 2] : 0.5 * (freqs[freqs.Length / 2 - 1] + freqs[freqs.Length / 2]);
            result[g] = new GroupFrequency(g, groups.Tafs[g], freqs.Length, freqs.Length == 0 ? 0 : freqs.Average(), median, freqs.Count(f => f == 0));
        }
        return result;
    }
}
