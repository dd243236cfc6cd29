using GbaEngine.Model;

namespace GbaEngine.Tests.Reference;

/// <summary>Builds a one-neuron sparse code with a given value per token (for warm-start tests).</summary>
public sealed class SparseCodeBuilder(int tokens, Func<int, float> value)
{
    public SparseCode Build()
    {
        var code = new SparseCode();
        code.Reset(tokens);
        code.EnsureCapacity(tokens);
        for (int t = 0; t < tokens; t++)
        {
            code.RowStart[t] = t;
            code.Index[t] = 0;
            code.H[t] = value(t);
        }
        code.RowStart[tokens] = tokens;
        return code;
    }
}
