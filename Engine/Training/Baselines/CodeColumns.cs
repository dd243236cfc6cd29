using GbaEngine.Model;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// The code's column view (CSC): for each neuron, its entries in token order, from a counting-sort
/// transpose of the CSR code. Lets per-neuron sums over tokens run neuron-parallel without atomics,
/// each summed in token order: deterministic for every thread count.
/// </summary>
internal sealed class CodeColumns
{
    int[] _entry = new int[1024];
    int[] _token = new int[1024];
    readonly int[] _cursor;

    public CodeColumns(int neurons)
    {
        Start = new int[neurons + 1];
        _cursor = new int[neurons];
    }

    /// <summary>[M + 1] neuron n's entries are Entry/Token[Start[n] .. Start[n+1]).</summary>
    public int[] Start { get; }
    /// <summary>Position of each column entry in the CSR code (for H).</summary>
    public int[] Entry => _entry;
    /// <summary>Token of each column entry.</summary>
    public int[] Token => _token;

    public void Build(SparseCode code)
    {
        int m = _cursor.Length, nnz = code.Count;
        if (_entry.Length < nnz)
        {
            int cap = Math.Max(nnz, _entry.Length * 3 / 2);
            _entry = new int[cap];
            _token = new int[cap];
        }
        Array.Clear(Start);
        for (int r = 0; r < nnz; r++) Start[code.Index[r] + 1]++;
        for (int n = 0; n < m; n++) Start[n + 1] += Start[n];
        Start.AsSpan(0, m).CopyTo(_cursor);
        for (int t = 0; t < code.Tokens; t++)
            for (int r = code.RowStart[t]; r < code.RowStart[t + 1]; r++)
            {
                int pos = _cursor[code.Index[r]]++;
                _entry[pos] = r;
                _token[pos] = t;
            }
    }
}
