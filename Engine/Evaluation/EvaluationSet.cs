using GbaEngine.Streams;

namespace GbaEngine.Evaluation;

/// <summary>
/// A fixed, held-out set of tokens (original scale) that every evaluation of a run reuses, with the
/// true features when the data is synthetic (or a ground-truth file is given).
/// </summary>
public sealed class EvaluationSet
{
    /// <summary>A set of tokens [count × dim] (original scale), with the true features [n × dim] and their frequencies if known.</summary>
    public EvaluationSet(float[] tokens, int dim, float[]? groundTruth = null, double[]? featureFrequencies = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (dim < 1 || tokens.Length % dim != 0) throw new ArgumentException($"{tokens.Length} evaluation values are not a whole number of rows of d = {dim}.", nameof(tokens));
        if (tokens.Length == 0) throw new ArgumentException("An evaluation set needs at least one token.", nameof(tokens));
        // A NaN token would turn every metric into NaN; say which token instead.
        for (int t = 0; t < tokens.Length / dim; t++)
            if (Kernels.Elementwise.NonFinite.Any(tokens.AsSpan(t * dim, dim)))
                throw new ArgumentException($"Evaluation token {t} holds NaN or infinity.", nameof(tokens));
        if (groundTruth != null && groundTruth.Length % dim != 0) throw new ArgumentException("Ground truth is not a whole number of rows of width d.");
        Tokens = tokens;
        Dim = dim;
        GroundTruth = groundTruth;
        FeatureFrequencies = featureFrequencies;
    }

    /// <summary>[Count × Dim] tokens, original scale.</summary>
    public float[] Tokens { get; }
    /// <summary>Row width d.</summary>
    public int Dim { get; }
    /// <summary>Number of tokens.</summary>
    public int Count => Tokens.Length / Dim;
    /// <summary>[n × d] true features, if known.</summary>
    public float[]? GroundTruth { get; }
    /// <summary>Frequency of every true feature, if known.</summary>
    public double[]? FeatureFrequencies { get; }

    /// <summary>Reads <paramref name="count"/> tokens from a stream into a new set.</summary>
    public static EvaluationSet FromStream(ITokenStream stream, int count, float[]? groundTruth = null, double[]? frequencies = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var data = new float[(long)count * stream.Dim];
        stream.NextBatch(data, count);
        return new EvaluationSet(data, stream.Dim, groundTruth, frequencies);
    }
}
