using GbaEngine.Rng;

namespace GbaEngine.Uses;

/// <summary>Settings of a corpus feature table (<see cref="FeatureTableBuilder"/>).</summary>
public sealed record FeatureTableOptions
{
    /// <summary>Strongest activations kept per feature.</summary>
    public int TopK { get; init; } = 20;

    /// <summary>Examples at evenly spaced quantiles of a feature's activations (weak to strong).</summary>
    public int Quantiles { get; init; } = 10;

    /// <summary>Size of the uniform sample of each feature's activations the quantile examples are drawn from:
    /// with at most this many firings they are exact quantiles of every activation.</summary>
    public int ReservoirSize { get; init; } = 256;

    /// <summary>Seed of the reservoir sample (a table is a function of the codes and this seed).</summary>
    public ulong Seed { get; init; }

    /// <summary>Throws on a setting out of range.</summary>
    public void Validate()
    {
        if (TopK < 1) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be at least 1.");
        if (Quantiles < 0) throw new ArgumentOutOfRangeException(nameof(Quantiles), Quantiles, "Quantiles must not be negative.");
        if (ReservoirSize < Math.Max(1, Quantiles))
            throw new ArgumentOutOfRangeException(nameof(ReservoirSize), ReservoirSize, $"ReservoirSize must be at least 1 and at least Quantiles = {Quantiles}.");
    }
}

/// <summary>
/// Builds a corpus feature table from a stream of sparse codes, one token at a time, in memory bounded by
/// the dictionary (M × (TopK + ReservoirSize) entries), whatever the corpus length: per feature the firing
/// count, the sum and maximum of its activations, a min-heap of the TopK strongest (token, value) pairs and
/// a uniform reservoir sample (Vitter's algorithm R, seeded) from which the quantile examples are taken.
/// Ties between equal activations go to the earlier token. Token text is attached afterwards
/// (<see cref="FeatureTable.AttachContexts(string, int)"/>), so the activations are read once.
/// </summary>
public sealed class FeatureTableBuilder
{
    readonly FeatureTableOptions _o;
    readonly long[] _fires;
    readonly double[] _sum;
    readonly float[] _max;
    readonly float[] _topValue;   // [M × TopK] a min-heap per feature (worst at the root)
    readonly long[] _topRow;
    readonly float[] _sampleValue; // [M × ReservoirSize]
    readonly long[] _sampleRow;
    Xoshiro256 _rng;

    /// <param name="features">Dictionary size M.</param>
    /// <param name="options">Settings (defaults if null).</param>
    public FeatureTableBuilder(int features, FeatureTableOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        _o = options ?? new FeatureTableOptions();
        _o.Validate();
        Features = features;
        _fires = new long[features];
        _sum = new double[features];
        _max = new float[features];
        _topValue = new float[(long)features * _o.TopK];
        _topRow = new long[(long)features * _o.TopK];
        _sampleValue = new float[(long)features * _o.ReservoirSize];
        _sampleRow = new long[(long)features * _o.ReservoirSize];
        _rng = new Xoshiro256(_o.Seed);
    }

    /// <summary>Dictionary size M.</summary>
    public int Features { get; }

    /// <summary>Tokens added so far.</summary>
    public long Tokens { get; private set; }

    /// <summary>Adds the next token's code: active feature indices (distinct, each below M) and their values.</summary>
    public void Add(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length) throw new ArgumentException($"{indices.Length} indices but {values.Length} values.", nameof(values));
        long row = Tokens++;
        int k = _o.TopK, r = _o.ReservoirSize;
        for (int i = 0; i < indices.Length; i++)
        {
            int m = indices[i];
            if ((uint)m >= (uint)Features) throw new ArgumentOutOfRangeException(nameof(indices), m, $"Feature index outside the dictionary of {Features}.");
            float v = values[i];
            if (!float.IsFinite(v)) throw new ArgumentException($"Token {row}: feature {m} has the non-finite value {v}.", nameof(values));
            long n = ++_fires[m];
            _sum[m] += v;
            if (n == 1 || v > _max[m]) _max[m] = v;

            var heapV = _topValue.AsSpan((int)((long)m * k), k);
            var heapR = _topRow.AsSpan((int)((long)m * k), k);
            if (n <= k) HeapPush(heapV, heapR, (int)n - 1, v, row);
            else if (v > heapV[0]) HeapReplaceRoot(heapV, heapR, k, v, row);

            long slot = n <= r ? n - 1 : (long)Math.BigMul(_rng.NextUInt64(), (ulong)n, out _);
            if (slot < r)
            {
                _sampleValue[(long)m * r + slot] = v;
                _sampleRow[(long)m * r + slot] = row;
            }
        }
    }

    // Heap order: the root is the worst entry, the smaller value or, for equal values, the later token.
    static bool Worse(float va, long ra, float vb, long rb) => va < vb || (va == vb && ra > rb);

    static void HeapPush(Span<float> v, Span<long> r, int at, float value, long row)
    {
        while (at > 0)
        {
            int parent = (at - 1) / 2;
            if (!Worse(value, row, v[parent], r[parent])) break;
            v[at] = v[parent];
            r[at] = r[parent];
            at = parent;
        }
        v[at] = value;
        r[at] = row;
    }

    static void HeapReplaceRoot(Span<float> v, Span<long> r, int count, float value, long row)
    {
        int at = 0;
        while (true)
        {
            int c = 2 * at + 1;
            if (c >= count) break;
            if (c + 1 < count && Worse(v[c + 1], r[c + 1], v[c], r[c])) c++;
            if (!Worse(v[c], r[c], value, row)) break;
            v[at] = v[c];
            r[at] = r[c];
            at = c;
        }
        v[at] = value;
        r[at] = row;
    }

    /// <summary>The table of everything added so far (the builder can go on accumulating).</summary>
    public FeatureTable Build()
    {
        int k = _o.TopK, r = _o.ReservoirSize, q = _o.Quantiles;
        var summaries = new FeatureSummary[Features];
        for (int m = 0; m < Features; m++)
        {
            long n = _fires[m];
            int kept = (int)Math.Min(n, k);
            var top = new FeatureExample[kept];
            for (int i = 0; i < kept; i++) top[i] = new FeatureExample(_topRow[(long)m * k + i], _topValue[(long)m * k + i]);
            Array.Sort(top, ByStrength);

            int sampled = (int)Math.Min(n, r);
            var sample = new FeatureExample[sampled];
            for (int i = 0; i < sampled; i++) sample[i] = new FeatureExample(_sampleRow[(long)m * r + i], _sampleValue[(long)m * r + i]);
            Array.Sort(sample, ByStrength);
            // Weak to strong: the example at quantile p = (j + 0.5) / Q of the sample (strongest first in `sample`);
            // a feature with fewer than Q firings shows each once.
            int shown = Math.Min(q, sampled);
            var quantiles = new FeatureExample[shown];
            for (int j = 0; j < shown; j++)
            {
                double p = (j + 0.5) / shown;
                int fromWeakest = Math.Min(sampled - 1, (int)Math.Floor(p * sampled));
                quantiles[j] = sample[sampled - 1 - fromWeakest] with { Quantile = p };
            }
            summaries[m] = new FeatureSummary(m, n, Tokens == 0 ? 0 : (double)n / Tokens, n == 0 ? 0 : _max[m], n == 0 ? 0 : _sum[m] / n, top, quantiles);
        }
        return new FeatureTable(Tokens, summaries, _o, Evaluation.EvaluationMetrics.FrequencyHistogramOf(_fires, Tokens));
    }

    static readonly Comparison<FeatureExample> ByStrength = (a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value) : a.Row.CompareTo(b.Row);
}
