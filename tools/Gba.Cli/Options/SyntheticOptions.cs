using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The paper's synthetic model as options, declared once for `gba train`, `gba demo` and `gba synth`: the number
/// of true features, the row width (<see cref="SharedOptions.Dim"/>, also the width of raw files), the sparsity,
/// the frequency profile, noise, magnitudes and a sparsity mixture; <see cref="ReadSpec"/> turns them into a
/// <see cref="SyntheticSpec"/> with the demo's problem as the default.
/// </summary>
public static class SyntheticOptions
{
    const string Group = "Synthetic";

    static OptionSpec Spec(string name, string value, string help) => OptionSpec.Valued(name, Group, value, help, OptionScope.Run);

    /// <summary>Every generator option, in help order (the width is listed as --dim among them).</summary>
    public static readonly IReadOnlyList<OptionSpec> All =
    [
        Spec("features", "n", "true features"),
        SharedOptions.Dim with { Group = Group },
        Spec("sparsity", "s", "active features per token"),
        Spec("profile", "uniform|powerlaw", "feature frequency profile"),
        Spec("exponent", "A", "power-law exponent"),
        Spec("noise", "SIGMA", "Gaussian noise per element"),
        Spec("magnitude-min", "X", "smallest feature magnitude"),
        Spec("magnitude-max", "X", "largest feature magnitude"),
        Spec("mix-sparsity", "S2", "a second sparsity for a fraction of the tokens"),
        Spec("mix-fraction", "F", "that fraction"),
    ];

    /// <summary>The generator the options describe; the demo's problem where they are not given.</summary>
    public static SyntheticSpec ReadSpec(OptionReader o) => new(
        Features: o.Int("--features", TrainOptions.DemoDefaults.Features),
        Dim: o.Int("--dim", TrainOptions.DemoDefaults.Dim),
        Sparsity: o.Int("--sparsity", TrainOptions.DemoDefaults.Sparsity),
        MagnitudeMin: o.Double("--magnitude-min", 0.5),
        MagnitudeMax: o.Double("--magnitude-max", 1.5),
        Noise: o.Double("--noise", 0),
        Profile: o.Enum("--profile", FrequencyProfile.Uniform),
        Exponent: o.Double("--exponent", 1.0),
        MixSparsity: o.Int("--mix-sparsity", 0),
        MixFraction: o.Double("--mix-fraction", 0.5));
}
