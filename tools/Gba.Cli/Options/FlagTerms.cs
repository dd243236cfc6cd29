using System.Globalization;
using System.Text.RegularExpressions;
using GbaEngine.Formats;
using GbaEngine.Training;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The library speaks in API names (TrainerOptions.Neurons, LoaderOptions.TensorName); gba's user typed
/// flags. This is where one becomes the other: trainer settings are validated by the library's own rules
/// (one home for each rule) and a failure is reworded by the flag that set the value.
/// </summary>
public static partial class FlagTerms
{
    /// <summary>The gba flag of each <see cref="TrainerOptions"/> property that <see cref="TrainerOptions.Validate"/> checks.</summary>
    public static readonly IReadOnlyDictionary<string, string> TrainerFlags = new Dictionary<string, string>
    {
        [nameof(TrainerOptions.Neurons)] = "--d-sae", [nameof(TrainerOptions.BatchSize)] = "--batch",
        [nameof(TrainerOptions.Tokens)] = "--tokens", [nameof(TrainerOptions.Steps)] = "--steps",
        [nameof(TrainerOptions.LearningRate)] = "--lr", [nameof(TrainerOptions.WeightDecay)] = "--weight-decay",
        [nameof(TrainerOptions.Threads)] = "--threads", [nameof(TrainerOptions.InitTokens)] = "--init-tokens",
        [nameof(TrainerOptions.BufferTokens)] = "--buffer-tokens", [nameof(TrainerOptions.EvalEvery)] = "--eval-every",
        [nameof(TrainerOptions.EvalPoints)] = "--eval-points", [nameof(TrainerOptions.K)] = "--k",
        [nameof(TrainerOptions.L1Coefficient)] = "--l1", [nameof(TrainerOptions.L1Warmup)] = "--l1-warmup",
        [nameof(TrainerOptions.L0Coefficient)] = "--l0-coefficient", [nameof(TrainerOptions.SteBandwidth)] = "--ste-bandwidth",
        [nameof(TrainerOptions.InitialThreshold)] = "--threshold-init", [nameof(TrainerOptions.ThresholdDecay)] = "--threshold-decay",
        [nameof(TrainerOptions.MpSteps)] = "--mp-steps", [nameof(TrainerOptions.Groups)] = "--groups",
        [nameof(TrainerOptions.Htf)] = "--htf", [nameof(TrainerOptions.Ltf)] = "--ltf", [nameof(TrainerOptions.Taf)] = "--taf",
        [nameof(TrainerOptions.Tied)] = "--untied", [nameof(TrainerOptions.EncoderStart)] = "--encoder-start",
        [nameof(TrainerOptions.DeadEpsilon)] = "--dead-epsilon",
        [nameof(TrainerOptions.GammaPlus)] = "--gamma-plus", [nameof(TrainerOptions.GammaMinus)] = "--gamma-minus",
    };

    /// <summary>Validates the trainer settings; a bad one is a <see cref="SettingException"/> naming its flag.</summary>
    public static void ValidateTrainer(TrainerOptions options)
    {
        try
        {
            options.Validate();
        }
        catch (ArgumentException e) when (e.ParamName is { } property && TrainerFlags.ContainsKey(property))
        {
            throw new SettingException(Reword(e.Message, property));
        }
    }

    /// <summary>Validates the synthetic problem; a bad setting is a <see cref="SettingException"/> naming its flag.</summary>
    public static void ValidateSynthetic(Synthetic.SyntheticSpec spec)
    {
        try
        {
            spec.Validate();
        }
        catch (ArgumentException e)
        {
            var m = e.Message.TrimEnd('.');
            foreach (var (api, flag) in SyntheticWords) m = m.Replace(api, flag);
            throw new SettingException(m);
        }
    }

    static readonly (string Api, string Flag)[] SyntheticWords =
    [
        ("Feature count n", "--features"), ("Dimension d", "--dim"), ("Sparsity s", "--sparsity"), ("1..n", "1..--features"),
        ("n = ", "--features = "), ("Need 0 <= magnitude min <= max", "need 0 <= --magnitude-min <= --magnitude-max"),
        ("Noise", "--noise"), ("Power-law exponent", "--exponent"), ("Mixture sparsity", "--mix-sparsity"),
        ("0..n", "0..--features"), ("A sparsity mixture needs the uniform profile", "--mix-sparsity needs --profile uniform"),
        ("Mixture fraction", "--mix-fraction"),
    ];

    /// <summary>"TrainerOptions.Neurons must be at least 1 (got 0). (Parameter 'Neurons')" -> "--d-sae must be at least 1 (got 0)".</summary>
    static string Reword(string message, string property)
    {
        if (property == nameof(TrainerOptions.Tied)) return "--method mp uses one tied dictionary to encode and decode: drop --untied";
        message = ParameterSuffix().Replace(message, "").TrimEnd('.');
        message = message.Replace("Method = Mp", "--method mp");
        return PropertyNames.Replace(message, m => TrainerFlags.TryGetValue(m.Groups[1].Value, out var flag) ? flag : m.Value);
    }

    [GeneratedRegex(@"\s*\(Parameter '\w+'\)$")]
    private static partial Regex ParameterSuffix();

    // Every property of TrainerFlags except Tied: "Tied must be true" means the opposite of --untied, so a message
    // naming Tied keeps the property's word. Derived from the table so a new flag needs one line, not two.
    static readonly Regex PropertyNames = new(@"(?:TrainerOptions\.)?\b(" +
        string.Join("|", TrainerFlags.Keys.Where(k => k != nameof(TrainerOptions.Tied))) + @")\b", RegexOptions.Compiled);

    /// <summary>An error's one line for the user, in flag terms where the library's own words name API settings.</summary>
    public static string Message(Exception e) => e switch
    {
        ActivationFormatException f => Describe(f),
        TrainingDivergedException d => Describe(d),
        _ => e.Message,
    };

    /// <summary>A loader error in flag terms: the file and the problem, then the flag that gets past it.</summary>
    public static string Describe(ActivationFormatException e) => e.Remedy switch
    {
        FormatRemedy.NameTensor => $"{e.FilePath}: {e.Problem} (--tensor NAME).",
        FormatRemedy.RawLayout => $"{e.FilePath}: {e.Problem} (give or correct --dtype and --dim).",
        FormatRemedy.SkipNonFinite => $"{e.FilePath}: {e.Problem} (--skip-nonfinite drops such rows).",
        _ => e.Message,
    };

    /// <summary>"diverged at step N (loss …): lower --lr (now X)".</summary>
    public static string Describe(TrainingDivergedException e) =>
        string.Create(CultureInfo.InvariantCulture,
            $"diverged at step {e.Step} (loss {TrainingDivergedException.Describe(e.Loss)}{(e.NonFiniteParameters ? ", parameters NaN or infinite" : "")}): lower --lr (now {e.LearningRate:G4}); the checkpoints written before it are the last good state");
}
