using System.Globalization;
using GbaEngine.Training;

namespace GbaEngine.Cli.Experiments;

/// <summary>A training method as an experiment runs it: a name, its setting in words, and how it changes the base options.</summary>
public sealed record MethodSpec(string Name, string Setting, Func<TrainerOptions, TrainerOptions> Configure)
{
    public string Label => $"{Name} ({Setting})";
}

/// <summary>
/// What a problem tells the methods: the sparsity s (TopK's and BatchTopK's k; MP's steps T unless
/// given apart), BA's target frequency p, GBA's TAF schedule (K groups from HTF down to LTF), and the
/// penalty weights of L1 and JumpReLU-L0 (the trainer's defaults unless the problem needs others).
/// </summary>
public sealed record MethodHints(int K, double BaTaf, int Groups, double Htf, double Ltf, int MpSteps = 0, double L1 = 0.1, double L0 = 0.05)
{
    public int PursuitSteps => MpSteps > 0 ? MpSteps : K;
}

/// <summary>The methods the experiments compare, one factory per method.</summary>
public static class Methods
{
    static readonly CultureInfo Ci = CultureInfo.InvariantCulture;

    /// <summary>One line per method: adding a baseline (L1, BatchTopK, JumpReLU-L0) is adding one line here.</summary>
    public static IReadOnlyList<MethodSpec> All(MethodHints h) =>
    [
        Gba(h.Groups, h.Htf, h.Ltf),
        Ba(h.BaTaf),
        TopK(h.K),
        Mp(h.PursuitSteps),
        L1(h.L1),
        BatchTopK(h.K),
        JumpReluL0(h.L0),
    ];

    public static MethodSpec Gba(int groups, double htf, double ltf) =>
        new("GBA", string.Create(Ci, $"K={groups}, TAF {htf:G3}→{ltf:G3}"), o => o with { Method = TrainingMethod.Gba, Groups = groups, Htf = htf, Ltf = ltf });

    public static MethodSpec Ba(double taf) => new("BA", string.Create(Ci, $"p={taf:G3}"), o => o with { Method = TrainingMethod.Ba, Taf = taf });

    public static MethodSpec TopK(int k) => new("TopK", $"k={k}", o => o with { Method = TrainingMethod.TopK, K = k });

    public static MethodSpec Mp(int steps) => new("MP", $"T={steps}", o => o with { Method = TrainingMethod.Mp, MpSteps = steps });

    public static MethodSpec L1(double lambda) => new("L1", string.Create(Ci, $"λ={lambda:G3}"), o => o with { Method = TrainingMethod.L1, L1Coefficient = lambda });

    public static MethodSpec BatchTopK(int k) => new("BatchTopK", $"k={k}", o => o with { Method = TrainingMethod.BatchTopK, K = k });

    public static MethodSpec JumpReluL0(double lambda) =>
        new("JumpReLU-L0", string.Create(Ci, $"λ={lambda:G3}"), o => o with { Method = TrainingMethod.JumpReluL0, L0Coefficient = lambda });
}
