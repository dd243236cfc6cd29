namespace GbaEngine.Synthetic;

/// <summary>How often each true feature occurs.</summary>
public enum FrequencyProfile
{
    /// <summary>Every token has exactly s distinct features, uniformly chosen: f = s/n for all.</summary>
    Uniform,
    /// <summary>Feature i occurs independently with f_i ∝ (i+1)^−α, scaled so that Σ f_i = s (s active on average).</summary>
    PowerLaw,
}

/// <summary>The paper's statistical model X = H V (spec/gba.md §1).</summary>
/// <param name="Features">n true features (rows of V).</param>
/// <param name="Dim">d, the activation width.</param>
/// <param name="Sparsity">s active features per token (exact for Uniform, the mean for PowerLaw).</param>
/// <param name="MagnitudeMin">Non-zero coefficients are Uniform(min, max): Θ(1) as the theory needs.</param>
/// <param name="Noise">Standard deviation of additive Gaussian noise per coordinate (0: none).</param>
/// <param name="Exponent">α of the power-law profile.</param>
/// <param name="MixSparsity">Uniform profile only: when positive, a fraction <paramref name="MixFraction"/> of the tokens
/// holds this many features instead of s (the paper's n = 128, d = 42 mixture: half the tokens with s = 3, half with 20).</param>
/// <param name="MixFraction">Share of tokens drawn with <paramref name="MixSparsity"/> features.</param>
public sealed record SyntheticSpec(int Features = 512, int Dim = 64, int Sparsity = 3, double MagnitudeMin = 0.5,
    double MagnitudeMax = 1.5, double Noise = 0.0, FrequencyProfile Profile = FrequencyProfile.Uniform, double Exponent = 1.0,
    int MixSparsity = 0, double MixFraction = 0.5)
{
    /// <summary>Mean number of active features per token (s, or the mixture's average).</summary>
    public double MeanSparsity => MixSparsity > 0 ? (1 - MixFraction) * Sparsity + MixFraction * MixSparsity : Sparsity;

    /// <summary>Throws an <see cref="ArgumentException"/> for settings the generator cannot draw.</summary>
    public void Validate()
    {
        if (Features < 1) throw new ArgumentException($"Feature count n must be positive (got {Features}).");
        if (Dim < 1) throw new ArgumentException($"Dimension d must be positive (got {Dim}).");
        if (Sparsity < 1 || Sparsity > Features) throw new ArgumentException($"Sparsity s must be in 1..n (got {Sparsity}, n = {Features}).");
        if (!(MagnitudeMin >= 0 && MagnitudeMax >= MagnitudeMin)) throw new ArgumentException($"Need 0 <= magnitude min <= max (got {MagnitudeMin}, {MagnitudeMax}).");
        if (!(Noise >= 0)) throw new ArgumentException($"Noise must be non-negative (got {Noise}).");
        if (Profile == FrequencyProfile.PowerLaw && !(Exponent > 0)) throw new ArgumentException($"Power-law exponent must be positive (got {Exponent}).");
        if (MixSparsity < 0 || MixSparsity > Features) throw new ArgumentException($"Mixture sparsity must be in 0..n (got {MixSparsity}, n = {Features}).");
        if (MixSparsity > 0 && Profile != FrequencyProfile.Uniform) throw new ArgumentException("A sparsity mixture needs the uniform profile.");
        if (MixSparsity > 0 && !(MixFraction >= 0 && MixFraction <= 1)) throw new ArgumentException($"Mixture fraction must be in [0, 1] (got {MixFraction}).");
    }
}
