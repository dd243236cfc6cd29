using GbaEngine.Rng;

namespace GbaEngine.Tests.Uses;

/// <summary>Random sparse codes: per token a random set of distinct features with non-negative values,
/// optionally quantised so that equal activations (ties) are common.</summary>
public static class RandomCodes
{
    public static (int[] Indices, float[] Values)[] Tokens(int tokens, int features, int maxActive, bool quantised, ulong seed)
    {
        var rng = new Xoshiro256(seed);
        var result = new (int[], float[])[tokens];
        for (int t = 0; t < tokens; t++)
        {
            int active = rng.NextInt(Math.Min(maxActive, features) + 1);
            var chosen = new SortedSet<int>();
            // Skewed feature choice so frequencies differ by orders of magnitude.
            while (chosen.Count < active) chosen.Add((int)(features * Math.Pow(rng.NextDouble(), 2.5)));
            var idx = chosen.ToArray();
            var val = idx.Select(_ => quantised ? (float)(1 + rng.NextInt(4)) * 0.25f : (float)(rng.NextDouble() * 3 + 1e-3)).ToArray();
            result[t] = (idx, val);
        }
        return result;
    }
}
