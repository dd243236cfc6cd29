namespace GbaEngine.Uses;

/// <summary>Similarity of two pooled sample codes a, b with feature weights w.</summary>
public enum SampleSimilarity
{
    /// <summary>Weighted Jaccard Σ w·min(a, b) / Σ w·max(a, b) (default): 1 for equal codes, 0 without a shared feature.</summary>
    WeightedJaccard,
    /// <summary>Cosine of the weighted codes: Σ w²·a·b / (‖w∘a‖ ‖w∘b‖).</summary>
    Cosine,
}

/// <summary>How the similarities to several targets make one score.</summary>
public enum TargetAggregation
{
    /// <summary>The largest similarity to any one target (default): a sample close to one target ranks high.</summary>
    Max,
    /// <summary>The similarity to the targets' centroid (their element-wise mean code): favours what all targets share.</summary>
    Centroid,
}

/// <summary>Feature weights of the similarity.</summary>
public enum FeatureWeighting
{
    /// <summary>Every feature weighs 1 (default).</summary>
    None,
    /// <summary>Smoothed inverse document frequency over the corpus samples: w = ln((1 + N) / (1 + df)) + 1, so
    /// features common to many samples count less.</summary>
    InverseFrequency,
}

/// <summary>Settings of <see cref="DataSelector.Score"/>.</summary>
public sealed record SelectionOptions
{
    /// <summary>The similarity.</summary>
    public SampleSimilarity Similarity { get; init; } = SampleSimilarity.WeightedJaccard;

    /// <summary>How several targets combine.</summary>
    public TargetAggregation Aggregation { get; init; } = TargetAggregation.Max;
}

/// <summary>A selected sample.</summary>
/// <param name="Sample">Its index in the corpus <see cref="SampleCodes"/>.</param>
/// <param name="Score">Its score against the targets.</param>
/// <param name="Rank">1 for the best.</param>
public readonly record struct SelectedSample(int Sample, double Score, int Rank);

/// <summary>
/// SAE-based data selection ("Task-Specific Data Selection for Instruction Tuning via Monosemantic Neuronal
/// Activations"): corpus samples are ranked by the similarity of their pooled SAE codes to a few target
/// samples. An inverted index (feature → samples with their values, CSR) means scoring a target touches only
/// the samples that share a feature with it: Jaccard's Σ w·max is Σ w·a + Σ w·b − Σ w·min, and cosine's norms
/// are precomputed, so both need only the shared features. Samples that share no feature score 0.
/// Immutable once built; <see cref="Score"/> may run on several threads at once.
/// </summary>
public sealed class DataSelector
{
    readonly SampleCodes _corpus;
    readonly long[] _postStart; // [M + 1]
    readonly int[] _postSample;
    readonly float[] _postValue;
    readonly double[] _weight;  // [M]
    readonly double[] _mass;    // [N] Σ w·a
    readonly double[] _norm;    // [N] ‖w∘a‖

    /// <summary>Indexes <paramref name="corpus"/>.</summary>
    /// <param name="corpus">The corpus samples' pooled codes.</param>
    /// <param name="weighting">Feature weights.</param>
    public DataSelector(SampleCodes corpus, FeatureWeighting weighting = FeatureWeighting.None)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        if (!Enum.IsDefined(weighting)) throw new ArgumentOutOfRangeException(nameof(weighting), weighting, "Unknown weighting.");
        _corpus = corpus;
        Weighting = weighting;
        int m = corpus.Features, n = corpus.Count;
        var df = new long[m];
        for (int s = 0; s < n; s++) foreach (int f in corpus.Indices(s)) df[f]++;
        _postStart = new long[m + 1];
        for (int f = 0; f < m; f++) _postStart[f + 1] = _postStart[f] + df[f];
        _postSample = new int[_postStart[m]];
        _postValue = new float[_postStart[m]];
        var fill = _postStart[..m];
        for (int s = 0; s < n; s++)
        {
            var idx = corpus.Indices(s);
            var val = corpus.Values(s);
            for (int i = 0; i < idx.Length; i++)
            {
                long at = fill[idx[i]]++;
                _postSample[at] = s;
                _postValue[at] = val[i];
            }
        }
        _weight = new double[m];
        for (int f = 0; f < m; f++)
            _weight[f] = weighting == FeatureWeighting.InverseFrequency ? Math.Log((1.0 + n) / (1.0 + df[f])) + 1 : 1;
        _mass = new double[n];
        _norm = new double[n];
        for (int s = 0; s < n; s++) (_mass[s], _norm[s]) = Totals(corpus.Indices(s), corpus.Values(s));
    }

    /// <summary>The feature weights' rule.</summary>
    public FeatureWeighting Weighting { get; }

    /// <summary>The indexed corpus.</summary>
    public SampleCodes Corpus => _corpus;

    /// <summary>The weight of feature <paramref name="feature"/>.</summary>
    public double Weight(int feature) => _weight[feature];

    (double Mass, double Norm) Totals(ReadOnlySpan<int> idx, ReadOnlySpan<float> val)
    {
        double mass = 0, sq = 0;
        for (int i = 0; i < idx.Length; i++)
        {
            double wv = _weight[idx[i]] * val[i];
            mass += wv;
            sq += wv * wv;
        }
        return (mass, Math.Sqrt(sq));
    }

    /// <summary>Every corpus sample's score against <paramref name="targets"/> (0 where it shares no feature with
    /// them). <paramref name="postingsVisited"/> counts the inverted-index entries the scoring read.</summary>
    public double[] Score(SampleCodes targets, SelectionOptions? options, out long postingsVisited)
    {
        ArgumentNullException.ThrowIfNull(targets);
        options ??= new SelectionOptions();
        if (targets.Features != _corpus.Features)
            throw new ArgumentException($"The targets are codes of {targets.Features} features, the corpus of {_corpus.Features}.", nameof(targets));
        if (targets.Count == 0) throw new ArgumentException("There are no target samples.", nameof(targets));
        var best = new double[_corpus.Count];
        var acc = new double[_corpus.Count];
        var mark = new bool[_corpus.Count];
        var touched = new List<int>();
        postingsVisited = 0;
        if (options.Aggregation == TargetAggregation.Centroid)
        {
            var (idx, val) = Centroid(targets);
            postingsVisited += ScoreOne(idx, val, options.Similarity, best, acc, mark, touched);
        }
        else
            for (int t = 0; t < targets.Count; t++)
                postingsVisited += ScoreOne(targets.Indices(t), targets.Values(t), options.Similarity, best, acc, mark, touched);
        return best;
    }

    /// <summary>The best <paramref name="top"/> corpus samples for <paramref name="targets"/>, best first; equal scores
    /// keep corpus order.</summary>
    public IReadOnlyList<SelectedSample> Select(SampleCodes targets, int top, SelectionOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        var score = Score(targets, options, out _);
        return Rank(score, top);
    }

    /// <summary>The <paramref name="top"/> best of <paramref name="score"/> (indices into it), best first, ties in index order.</summary>
    public static IReadOnlyList<SelectedSample> Rank(double[] score, int top)
    {
        ArgumentNullException.ThrowIfNull(score);
        var order = new int[score.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(order, (a, b) => score[a] != score[b] ? score[b].CompareTo(score[a]) : a.CompareTo(b));
        int k = Math.Min(top, order.Length);
        var result = new SelectedSample[k];
        for (int r = 0; r < k; r++) result[r] = new SelectedSample(order[r], score[order[r]], r + 1);
        return result;
    }

    /// <summary>How many samples a ratio selects: ⌈ratio · N⌉.</summary>
    public static int CountForRatio(double ratio, int samples)
    {
        if (!(ratio > 0 && ratio <= 1)) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "The ratio must be in (0, 1].");
        return (int)Math.Min(samples, Math.Ceiling(ratio * samples));
    }

    static (int[] Indices, float[] Values) Centroid(SampleCodes targets)
    {
        var sum = new SortedDictionary<int, double>();
        for (int t = 0; t < targets.Count; t++)
        {
            var idx = targets.Indices(t);
            var val = targets.Values(t);
            for (int i = 0; i < idx.Length; i++) sum[idx[i]] = sum.GetValueOrDefault(idx[i]) + val[i];
        }
        return (sum.Keys.ToArray(), sum.Values.Select(v => (float)(v / targets.Count)).ToArray());
    }

    long ScoreOne(ReadOnlySpan<int> idx, ReadOnlySpan<float> val, SampleSimilarity similarity, double[] best, double[] acc, bool[] mark, List<int> touched)
    {
        bool jaccard = similarity == SampleSimilarity.WeightedJaccard;
        long visited = 0;
        for (int i = 0; i < idx.Length; i++)
        {
            int f = idx[i];
            double w = _weight[f], b = val[i];
            for (long p = _postStart[f]; p < _postStart[f + 1]; p++)
            {
                int s = _postSample[p];
                if (!mark[s]) { mark[s] = true; touched.Add(s); }
                double a = _postValue[p];
                acc[s] += jaccard ? w * Math.Min(a, b) : w * w * a * b;
            }
            visited += _postStart[f + 1] - _postStart[f];
        }
        var (mass, norm) = Totals(idx, val);
        foreach (int s in touched)
        {
            double shared = acc[s], sim;
            if (jaccard)
            {
                double union = _mass[s] + mass - shared;
                sim = union > 0 ? shared / union : 0;
            }
            else sim = _norm[s] > 0 && norm > 0 ? shared / (_norm[s] * norm) : 0;
            if (sim > best[s]) best[s] = sim;
            acc[s] = 0;
            mark[s] = false;
        }
        touched.Clear();
        return visited;
    }
}
