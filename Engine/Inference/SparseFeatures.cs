namespace GbaEngine.Inference;

/// <summary>
/// One token's active features: indices in ascending order with their values, plus the per-token
/// output mapping x̂ = x̂'·OutputScale + OutputShift that input normalisation requires (1 and 0
/// when the SAE has none), so decoding needs nothing but this object.
/// </summary>
public sealed class SparseFeatures
{
    /// <param name="indices">Active feature indices (ascending, distinct).</param>
    /// <param name="values">Their values, same length.</param>
    public SparseFeatures(int[] indices, float[] values, float outputScale = 1f, float outputShift = 0f)
    {
        ArgumentNullException.ThrowIfNull(indices);
        ArgumentNullException.ThrowIfNull(values);
        if (indices.Length != values.Length)
            throw new ArgumentException($"{indices.Length} indices but {values.Length} values.", nameof(values));
        Indices = indices;
        Values = values;
        OutputScale = outputScale;
        OutputShift = outputShift;
    }

    /// <summary>Active feature indices, ascending.</summary>
    public int[] Indices { get; }

    /// <summary>Values of the active features.</summary>
    public float[] Values { get; }

    /// <summary>Number of active features (this token's L0).</summary>
    public int Count => Indices.Length;

    /// <summary>Multiplies the decoder output to undo per-token input normalisation.</summary>
    public float OutputScale { get; }

    /// <summary>Added to every component of the decoder output after <see cref="OutputScale"/>.</summary>
    public float OutputShift { get; }
}

/// <summary>
/// The sparse features of a batch of tokens in CSR form: token t's features are
/// <see cref="Indices(int)"/> / <see cref="Values(int)"/> (ascending indices). A batch can be passed
/// back to <see cref="SaeModel.EncodeBatch(ReadOnlySpan{float}, int, SparseFeatureBatch, int)"/> to
/// reuse its arrays; it is not safe to share one batch between concurrent calls.
/// </summary>
public sealed class SparseFeatureBatch
{
    int[] _rowStart = new int[1];
    int[] _index = [];
    float[] _value = [];
    float[] _scale = [];
    float[] _shift = [];

    /// <summary>Number of tokens.</summary>
    public int Tokens { get; private set; }

    /// <summary>Total active entries over all tokens.</summary>
    public int Count => _rowStart[Tokens];

    /// <summary>Mean number of active features per token.</summary>
    public double L0 => Tokens == 0 ? 0 : (double)Count / Tokens;

    /// <summary>Token t's entries are [RowStarts[t], RowStarts[t + 1]) of <see cref="AllIndices"/> / <see cref="AllValues"/>.</summary>
    public ReadOnlySpan<int> RowStarts => _rowStart.AsSpan(0, Tokens + 1);

    /// <summary>Every token's indices, concatenated in token order.</summary>
    public ReadOnlySpan<int> AllIndices => _index.AsSpan(0, Count);

    /// <summary>Every token's values, concatenated in token order.</summary>
    public ReadOnlySpan<float> AllValues => _value.AsSpan(0, Count);

    /// <summary>Token t's active feature indices, ascending.</summary>
    public ReadOnlySpan<int> Indices(int token) => _index.AsSpan(Start(token), Length(token));

    /// <summary>Token t's feature values, in the order of <see cref="Indices(int)"/>.</summary>
    public ReadOnlySpan<float> Values(int token) => _value.AsSpan(Start(token), Length(token));

    /// <summary>See <see cref="SparseFeatures.OutputScale"/>.</summary>
    public float OutputScale(int token) { CheckToken(token); return _scale[token]; }

    /// <summary>See <see cref="SparseFeatures.OutputShift"/>.</summary>
    public float OutputShift(int token) { CheckToken(token); return _shift[token]; }

    /// <summary>Token t as a standalone copy.</summary>
    public SparseFeatures this[int token] => new(Indices(token).ToArray(), Values(token).ToArray(), OutputScale(token), OutputShift(token));

    int Start(int token) { CheckToken(token); return _rowStart[token]; }

    int Length(int token) => _rowStart[token + 1] - _rowStart[token];

    void CheckToken(int token)
    {
        if ((uint)token >= (uint)Tokens) throw new ArgumentOutOfRangeException(nameof(token), token, $"Token outside [0, {Tokens}).");
    }

    // Building (SaeModel only): Reset, then per token Reserve + Commit in token order.

    internal void Reset(int tokens)
    {
        Tokens = tokens;
        if (_rowStart.Length < tokens + 1) _rowStart = new int[tokens + 1];
        if (_scale.Length < tokens) { _scale = new float[tokens]; _shift = new float[tokens]; }
        _rowStart[0] = 0;
    }

    /// <summary>Room for <paramref name="entries"/> more entries after token t's start: the spans to write.</summary>
    internal void Reserve(int token, int entries, out Span<int> index, out Span<float> value)
    {
        int start = _rowStart[token];
        if (_index.Length < start + entries)
        {
            int cap = Math.Max(start + entries, _index.Length * 3 / 2);
            Array.Resize(ref _index, cap);
            Array.Resize(ref _value, cap);
        }
        index = _index.AsSpan(start, entries);
        value = _value.AsSpan(start, entries);
    }

    internal void Commit(int token, int count, float scale, float shift)
    {
        _rowStart[token + 1] = _rowStart[token] + count;
        _scale[token] = scale;
        _shift[token] = shift;
    }

    /// <summary>Appends <paramref name="part"/>'s tokens after the first <paramref name="firstToken"/> tokens.</summary>
    internal void CopyFrom(SparseFeatureBatch part, int firstToken)
    {
        int start = _rowStart[firstToken], n = part.Count;
        if (_index.Length < start + n)
        {
            int cap = Math.Max(start + n, _index.Length * 3 / 2);
            Array.Resize(ref _index, cap);
            Array.Resize(ref _value, cap);
        }
        part._index.AsSpan(0, n).CopyTo(_index.AsSpan(start));
        part._value.AsSpan(0, n).CopyTo(_value.AsSpan(start));
        for (int t = 0; t < part.Tokens; t++)
        {
            _rowStart[firstToken + t + 1] = start + part._rowStart[t + 1];
            _scale[firstToken + t] = part._scale[t];
            _shift[firstToken + t] = part._shift[t];
        }
    }
}
