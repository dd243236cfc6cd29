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
public sealed record SyntheticSpec(int Features = 512, int Dim = 64, int Sparsity = 3, double MagnitudeMin = 0.5,
    double MagnitudeMax = 1.5, double Noise = 0.0, FrequencyProfile Profile = FrequencyProfile.Uniform, double Exponent = 1.0)
{
    public void Validate()
    {
        if (Features < 1) throw new ArgumentException($"Feature count n must be positive (got {Features}).");
        if (Dim < 1) throw new ArgumentException($"Dimension d must be positive (got {Dim}).");
        if (Sparsity < 1 || Sparsity > Features) throw new ArgumentException($"Sparsity s must be in 1..n (got {Sparsity}, n = {Features}).");
        if (!(MagnitudeMin >= 0 && MagnitudeMax >= MagnitudeMin)) throw new ArgumentException($"Need 0 <= magnitude min <= max (got {MagnitudeMin}, {MagnitudeMax}).");
        if (!(Noise >= 0)) throw new ArgumentException($"Noise must be non-negative (got {Noise}).");
        if (Profile == FrequencyProfile.PowerLaw && !(Exponent > 0)) throw new ArgumentException($"Power-law exponent must be positive (got {Exponent}).");
    }
}
