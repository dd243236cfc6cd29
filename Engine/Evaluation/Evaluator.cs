using GbaEngine.Encoders;
using GbaEngine.Inference;
using GbaEngine.Model;
using GbaEngine.Streams;

namespace GbaEngine.Evaluation;

/// <summary>
/// The one evaluator: every metric of spec/gba.md §5, on the original activation scale, for the
/// engine's trained models (<see cref="SparseAutoencoder"/>, encoded by their own encoder through
/// <see cref="ChunkedEncoder"/>, as training evaluates) and for any loaded SAE (<see cref="SaeModel"/>:
/// this engine's export, SAELens, sparsify), with one set of definitions:
/// MSE = Σ‖x − x̂‖² / (n·d), FVU = Σ‖x − x̂‖² / Σ‖x − mean(x)‖² (mean over the evaluated tokens),
/// L0 = active features per token, dead = features never active on these tokens, the log10
/// firing-frequency histogram, per-group frequencies against their TAFs, and FRR when the set has
/// ground truth. Tokens go through in chunks, so memory is bounded by the chunk; sums run in token
/// order, so no result depends on the thread count.
/// </summary>
public static class Evaluator
{
    const int StreamChunkRows = 4096;

    /// <summary>A trained model on an in-memory set (the trainer's evaluation).</summary>
    /// <param name="groups">GBA groups (group of each neuron and their TAFs), if the run has them.</param>
    public static EvaluationMetrics Evaluate(SparseAutoencoder sae, EvaluationSet set, NeuronGroups? groups, int threads)
    {
        if (set.Dim != sae.Dim) throw new ArgumentException($"Evaluation data has d = {set.Dim}, the SAE expects d = {sae.Dim}.");
        int n = set.Count, m = sae.Neurons;
        var stats = new FiringStatistics(m);
        var sums = new Sums(set.Dim, m);
        sums.AddMean(set.Tokens, n);
        sums.FinishMean(n);
        using (var encoder = new ChunkedEncoder(sae, threads))
            encoder.Encode(set.Tokens, n, new TrainedModelErrors(sae, set.Tokens, sums), stats);
        var best = set.GroundTruth is { } truth
            ? FeatureRecovery.BestCosines(truth, truth.Length / set.Dim, sae.Parameters.Decoder, m, sae.Dim, sae.Parameters.Stride, threads, kernels: sae.Kernels)
            : null;
        return sums.Metrics(n, stats.FireCount, groups) with
        {
            Frr08 = best is null ? null : FeatureRecovery.Rate(best, 0.8),
            Frr09 = best is null ? null : FeatureRecovery.Rate(best, 0.9),
            BestCosines = best,
        };
    }

    /// <summary>Any SAE on the first <paramref name="tokens"/> rows of a stream; <paramref name="open"/> is called
    /// twice (the mean, then the errors) and must give the same rows each time, so the data never has to fit in memory.</summary>
    public static EvaluationMetrics Evaluate(SaeModel model, Func<ITokenStream> open, long tokens, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        int d = model.Dim, m = model.Features;
        var x = new float[(long)Math.Min(StreamChunkRows, Math.Max(tokens, 1)) * d];
        var sums = new Sums(d, m);
        using (var stream = Open(open, d))
            for (long done = 0; done < tokens;)
            {
                int n = (int)Math.Min(StreamChunkRows, tokens - done);
                stream.NextBatch(x, n);
                sums.AddMean(x, n);
                done += n;
            }
        sums.FinishMean(tokens);

        var batch = new SparseFeatureBatch();
        var xhat = new float[x.Length];
        var counts = new long[m];
        using (var stream = Open(open, d))
            for (long done = 0; done < tokens;)
            {
                int n = (int)Math.Min(StreamChunkRows, tokens - done);
                stream.NextBatch(x, n);
                model.EncodeBatch(x.AsSpan(0, n * d), n, batch, threads);
                model.DecodeBatch(batch, xhat.AsSpan(0, n * d), threads);
                sums.Active += batch.Count;
                foreach (int i in batch.AllIndices) counts[i]++;
                for (int t = 0; t < n; t++)
                {
                    double e2 = 0;
                    for (int j = 0; j < d; j++)
                    {
                        double e = xhat[t * d + j] - (double)x[t * d + j];
                        e2 += e * e;
                    }
                    sums.Add(e2, x.AsSpan(t * d, d));
                }
                done += n;
            }
        return sums.Metrics(tokens, counts, null);
    }

    /// <summary>Any SAE on an in-memory set (its ground truth, if any, is not used: an imported SAE has no feature recovery to score).</summary>
    public static EvaluationMetrics Evaluate(SaeModel model, EvaluationSet set, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(set);
        return Evaluate(model, () => new MemoryTokenStream(set.Tokens, set.Dim), set.Count, threads);
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

    /// <summary>Reconstruction errors of a trained model's chunks: decoded in the normalised space, mapped back by each token's factor.</summary>
    sealed class TrainedModelErrors(SparseAutoencoder sae, float[] tokens, Sums sums) : IEncodedChunkVisitor
    {
        readonly float[] _xhat = new float[sae.Parameters.Stride];

        public void Visit(int first, int rows, ReadOnlySpan<float> normalized, ReadOnlySpan<float> factors, SparseCode code)
        {
            int d = sae.Dim, stride = sae.Parameters.Stride;
            sums.Active += code.Count;
            for (int t = 0; t < rows; t++)
            {
                SparseDecoder.Reconstruct(sae.Parameters, code.Indices(t), code.Values(t), _xhat, sae.Kernels);
                var xt = normalized.Slice(t * stride, d);
                double e2 = 0;
                for (int j = 0; j < d; j++)
                {
                    double e = _xhat[j] - xt[j];
                    e2 += e * e;
                }
                sums.Add(e2 * factors[t] * factors[t], tokens.AsSpan((first + t) * d, d));
            }
        }
    }

    /// <summary>The running sums every metric comes from, added in token order.</summary>
    sealed class Sums(int dim, int features)
    {
        readonly double[] _mean = new double[dim];
        double _sse, _sst;
        public long Active;

        public void AddMean(ReadOnlySpan<float> rows, int count)
        {
            for (int t = 0; t < count; t++)
                for (int j = 0; j < dim; j++) _mean[j] += rows[t * dim + j];
        }

        public void FinishMean(long count)
        {
            for (int j = 0; j < dim; j++) _mean[j] /= Math.Max(1, count);
        }

        /// <summary>One token: its squared error on the original scale, and the token itself (for the variance).</summary>
        public void Add(double squaredError, ReadOnlySpan<float> original)
        {
            double c2 = 0;
            for (int j = 0; j < dim; j++)
            {
                double c = original[j] - _mean[j];
                c2 += c * c;
            }
            _sse += squaredError;
            _sst += c2;
        }

        public EvaluationMetrics Metrics(long n, ReadOnlySpan<long> fires, NeuronGroups? groups)
        {
            int dead = 0;
            foreach (long f in fires) if (f == 0) dead++;
            return new EvaluationMetrics
            {
                Tokens = n,
                Mse = n == 0 ? 0 : _sse / ((double)n * dim),
                Fvu = _sst > 0 ? _sse / _sst : double.NaN,
                L0 = n == 0 ? 0 : (double)Active / n,
                FractionActive = n == 0 ? 0 : (double)Active / n / features,
                DeadFraction = (double)dead / features,
                FrequencyHistogram = EvaluationMetrics.FrequencyHistogramOf(fires, n),
                Groups = groups is null ? [] : GroupFrequencies(groups, fires.ToArray(), n),
            };
        }
    }

    static GroupFrequency[] GroupFrequencies(NeuronGroups groups, long[] fires, long n)
    {
        double Frequency(int k) => n == 0 ? 0 : (double)fires[k] / n;
        var result = new GroupFrequency[groups.Count];
        for (int g = 0; g < groups.Count; g++)
        {
            var freqs = Enumerable.Range(0, groups.GroupOf.Length).Where(k => groups.GroupOf[k] == g).Select(Frequency).OrderBy(f => f).ToArray();
            double median = freqs.Length == 0 ? 0 : freqs.Length % 2 == 1 ? freqs[freqs.Length / 2] : 0.5 * (freqs[freqs.Length / 2 - 1] + freqs[freqs.Length / 2]);
            result[g] = new GroupFrequency(g, groups.Tafs[g], freqs.Length, freqs.Length == 0 ? 0 : freqs.Average(), median, freqs.Count(f => f == 0));
        }
        return result;
    }
}
