using GbaEngine.Inference;
using GbaEngine.Streams;

namespace GbaEngine.Evaluation;

/// <summary>
/// The reconstruction metrics of spec/gba.md §5 for any <see cref="SaeModel"/> (this engine's, SAELens',
/// sparsify's), with <see cref="Evaluator"/>'s definitions, computed in the original activation space:
/// MSE = Σ‖x − x̂‖² / (n·d), FVU = Σ‖x − x̂‖² / Σ‖x − mean(x)‖² (mean over the evaluated tokens),
/// L0 = active features per token, dead = features never active on these tokens, the log10
/// firing-frequency histogram. Tokens are streamed in chunks, twice (the mean, then the errors), so
/// the data never has to fit in memory; sums run in token order, so the result does not depend on
/// the thread count.
/// </summary>
public static class InferenceEvaluator
{
    const int ChunkRows = 4096;

    /// <summary>Evaluates on the first <paramref name="tokens"/> rows of a stream; <paramref name="open"/> is called twice and must give the same rows each time.</summary>
    public static EvaluationMetrics Evaluate(SaeModel model, Func<ITokenStream> open, long tokens, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int d = model.Dim, m = model.Features;
        var x = new float[(long)Math.Min(ChunkRows, Math.Max(tokens, 1)) * d];

        var mean = new double[d];
        using (var stream = Open(open, d))
        {
            for (long done = 0; done < tokens;)
            {
                int n = (int)Math.Min(ChunkRows, tokens - done);
                stream.NextBatch(x, n);
                for (int t = 0; t < n; t++)
                    for (int j = 0; j < d; j++) mean[j] += x[t * d + j];
                done += n;
            }
        }
        for (int j = 0; j < d; j++) mean[j] /= Math.Max(1, tokens);

        var batch = new SparseFeatureBatch();
        var xhat = new float[x.Length];
        var counts = new long[m];
        double sse = 0, sst = 0;
        long active = 0;
        using (var stream = Open(open, d))
        {
            for (long done = 0; done < tokens;)
            {
                int n = (int)Math.Min(ChunkRows, tokens - done);
                stream.NextBatch(x, n);
                model.EncodeBatch(x, n, batch, threads);
                model.DecodeBatch(batch, xhat, threads);
                active += batch.Count;
                foreach (int i in batch.AllIndices) counts[i]++;
                for (int t = 0; t < n; t++)
                {
                    double e2 = 0, c2 = 0;
                    for (int j = 0; j < d; j++)
                    {
                        double e = xhat[t * d + j] - (double)x[t * d + j];
                        e2 += e * e;
                        double c = x[t * d + j] - mean[j];
                        c2 += c * c;
                    }
                    sse += e2;
                    sst += c2;
                }
                done += n;
            }
        }

        var hist = new int[(int)(-EvaluationMetrics.HistogramMinLog10 / EvaluationMetrics.HistogramBinWidth) + 1];
        int dead = 0;
        for (int k = 0; k < m; k++)
        {
            if (counts[k] == 0) { dead++; continue; }
            double lg = Math.Log10((double)counts[k] / tokens);
            int bin = (int)Math.Floor((lg - EvaluationMetrics.HistogramMinLog10) / EvaluationMetrics.HistogramBinWidth);
            hist[Math.Clamp(bin, 0, hist.Length - 1)]++;
        }
        return new EvaluationMetrics
        {
            Tokens = tokens,
            Mse = tokens == 0 ? 0 : sse / ((double)tokens * d),
            Fvu = sst > 0 ? sse / sst : double.NaN,
            L0 = tokens == 0 ? 0 : (double)active / tokens,
            FractionActive = tokens == 0 ? 0 : (double)active / tokens / m,
            DeadFraction = (double)dead / m,
            FrequencyHistogram = hist,
        };
    }

    /// <summary>Evaluates on an in-memory evaluation set (its ground truth, if any, is not used: an imported SAE has no feature recovery to score).</summary>
    public static EvaluationMetrics Evaluate(SaeModel model, EvaluationSet set, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(set);
        return Evaluate(model, () => new ArrayStream(set.Tokens, set.Dim), set.Count, threads);
    }

    static ITokenStream Open(Func<ITokenStream> open, int d)
    {
        var stream = open();
        if (stream.Dim != d)
        {
            string what = stream.Describe();
            int dim = stream.Dim;
            stream.Dispose();
            throw new ArgumentException($"{what}: rows have d = {dim}, the SAE expects d_in = {d}.");
        }
        return stream;
    }

    /// <summary>Rows of an array, in order, looping.</summary>
    sealed class ArrayStream(float[] tokens, int dim) : ITokenStream
    {
        long _row;
        public int Dim => dim;
        public long Position => _row;
        public string Describe() => $"{tokens.Length / dim} in-memory tokens of d = {dim}";

        public void NextBatch(Span<float> destination, int rows)
        {
            long count = tokens.Length / dim;
            for (int r = 0; r < rows; r++, _row++)
                tokens.AsSpan((int)(_row % count * dim), dim).CopyTo(destination.Slice(r * dim, dim));
        }

        public void Dispose() { }
    }
}
