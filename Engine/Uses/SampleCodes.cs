namespace GbaEngine.Uses;

/// <summary>How a sample's tokens are pooled into one code per feature.</summary>
public enum SamplePooling
{
    /// <summary>The largest activation of the feature over the sample's tokens (default).</summary>
    Max,
    /// <summary>The sum of its activations over the tokens.</summary>
    Sum,
    /// <summary>The sum divided by the sample's token count (tokens where it is inactive count as 0).</summary>
    Mean,
}

/// <summary>
/// Pooled sparse codes of samples (sentences of a token-text file) in CSR form: sample i has the sentence id
/// <see cref="Id"/>, its first corpus row, its token count and its active features in ascending order with
/// their pooled values. Built by <see cref="SampleCodeBuilder"/>.
/// </summary>
public sealed class SampleCodes
{
    internal SampleCodes(int features, int[] ids, long[] firstRows, int[] tokenCounts, long[] start, int[] index, float[] value)
    {
        Features = features;
        _ids = ids;
        _firstRows = firstRows;
        _tokens = tokenCounts;
        _start = start;
        _index = index;
        _value = value;
    }

    readonly int[] _ids, _tokens, _index;
    readonly long[] _firstRows, _start;
    readonly float[] _value;

    /// <summary>Dictionary size M.</summary>
    public int Features { get; }

    /// <summary>Number of samples.</summary>
    public int Count => _ids.Length;

    /// <summary>Active (sample, feature) entries over all samples.</summary>
    public long NonZeros => _start[Count];

    /// <summary>Sample <paramref name="i"/>'s sentence id in the token text.</summary>
    public int Id(int i) => _ids[i];

    /// <summary>The corpus row of sample <paramref name="i"/>'s first token.</summary>
    public long FirstRow(int i) => _firstRows[i];

    /// <summary>Sample <paramref name="i"/>'s token count.</summary>
    public int TokenCount(int i) => _tokens[i];

    /// <summary>Sample <paramref name="i"/>'s active features, ascending.</summary>
    public ReadOnlySpan<int> Indices(int i) => _index.AsSpan((int)_start[i], (int)(_start[i + 1] - _start[i]));

    /// <summary>Their pooled values.</summary>
    public ReadOnlySpan<float> Values(int i) => _value.AsSpan((int)_start[i], (int)(_start[i + 1] - _start[i]));
}

/// <summary>
/// Pools a stream of token codes into per-sample codes: consecutive tokens with the same sentence id form one
/// sample. A sentence id that comes back after another sentence started is an error (samples must be contiguous,
/// as a token-text file lists them). Memory: one dense row of M floats plus the pooled codes.
/// </summary>
public sealed class SampleCodeBuilder
{
    readonly SamplePooling _pooling;
    readonly float[] _dense;
    readonly bool[] _on;
    readonly List<int> _touched = [];
    readonly HashSet<int> _seen = [];
    readonly List<int> _ids = [], _tokenCounts = [];
    readonly List<long> _firstRows = [], _start = [0];
    readonly List<int> _index = [];
    readonly List<float> _value = [];
    long _row;
    int _current, _currentTokens;
    long _currentFirst;
    bool _open;

    /// <param name="features">Dictionary size M.</param>
    /// <param name="pooling">How tokens pool into a sample.</param>
    public SampleCodeBuilder(int features, SamplePooling pooling = SamplePooling.Max)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (!Enum.IsDefined(pooling)) throw new ArgumentOutOfRangeException(nameof(pooling), pooling, "Unknown pooling.");
        Features = features;
        _pooling = pooling;
        _dense = new float[features];
        _on = new bool[features];
    }

    /// <summary>Dictionary size M.</summary>
    public int Features { get; }

    /// <summary>Adds the next corpus token: its sentence id and its code (distinct feature indices, non-negative finite values).</summary>
    public void Add(int sentence, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length) throw new ArgumentException($"{indices.Length} indices but {values.Length} values.", nameof(values));
        if (!_open || sentence != _current)
        {
            Flush();
            if (!_seen.Add(sentence))
                throw new InvalidDataException($"Row {_row}: sentence {sentence} continues after another sentence started (a sample's tokens must be contiguous).");
            _open = true;
            _current = sentence;
            _currentFirst = _row;
            _currentTokens = 0;
        }
        _currentTokens++;
        for (int i = 0; i < indices.Length; i++)
        {
            int m = indices[i];
            if ((uint)m >= (uint)Features) throw new ArgumentOutOfRangeException(nameof(indices), m, $"Feature index outside the dictionary of {Features}.");
            float v = values[i];
            if (!(v >= 0) || !float.IsFinite(v))
                throw new ArgumentException($"Row {_row}: feature {m} has the value {v}; sample similarities need non-negative finite codes.", nameof(values));
            if (!_on[m]) { _on[m] = true; _touched.Add(m); _dense[m] = v; }
            else if (_pooling == SamplePooling.Max) _dense[m] = Math.Max(_dense[m], v);
            else _dense[m] += v;
        }
        _row++;
    }

    void Flush()
    {
        if (!_open) return;
        _touched.Sort();
        foreach (int m in _touched)
        {
            float v = _pooling == SamplePooling.Mean ? _dense[m] / _currentTokens : _dense[m];
            if (v > 0) { _index.Add(m); _value.Add(v); }
            _on[m] = false;
            _dense[m] = 0;
        }
        _touched.Clear();
        _ids.Add(_current);
        _firstRows.Add(_currentFirst);
        _tokenCounts.Add(_currentTokens);
        _start.Add(_index.Count);
        _open = false;
    }

    /// <summary>The samples added (the last one closed); the builder is finished afterwards.</summary>
    public SampleCodes Build()
    {
        Flush();
        return new SampleCodes(Features, [.. _ids], [.. _firstRows], [.. _tokenCounts], [.. _start], [.. _index], [.. _value]);
    }
}
