namespace GbaEngine.Model;

/// <summary>
/// A batch's sparse code in CSR form: token t's active neurons are Index[RowStart[t]..RowStart[t+1])
/// in ascending order, with values H (the output is f = a·H). Arrays grow on demand and are then
/// reused, so a training loop in steady state allocates nothing.
/// </summary>
public sealed class SparseCode
{
    /// <summary>Tokens in the batch.</summary>
    public int Tokens { get; private set; }
    /// <summary>[Tokens + 1] start of each token's entries.</summary>
    public int[] RowStart { get; private set; } = new int[1];
    /// <summary>Neuron index of every entry (ascending within a token).</summary>
    public int[] Index { get; private set; } = [];
    /// <summary>Value h of every entry (the output is f = a·h).</summary>
    public float[] H { get; private set; } = [];

    /// <summary>Total active entries in the batch.</summary>
    public int Count => RowStart[Tokens];

    /// <summary>Mean number of active neurons per token (L0).</summary>
    public double L0 => Tokens == 0 ? 0 : (double)Count / Tokens;

    internal void Reset(int tokens)
    {
        Tokens = tokens;
        if (RowStart.Length < tokens + 1) RowStart = new int[tokens + 1];
    }

    internal void EnsureCapacity(int entries)
    {
        if (Index.Length >= entries) return;
        int cap = Math.Max(entries, Index.Length * 3 / 2);
        Index = new int[cap];
        H = new float[cap];
    }

    /// <summary>Token t's active neurons, ascending.</summary>
    public ReadOnlySpan<int> Indices(int token) => Index.AsSpan(RowStart[token], RowStart[token + 1] - RowStart[token]);
    /// <summary>Token t's values, in the order of <see cref="Indices"/>.</summary>
    public ReadOnlySpan<float> Values(int token) => H.AsSpan(RowStart[token], RowStart[token + 1] - RowStart[token]);
}
