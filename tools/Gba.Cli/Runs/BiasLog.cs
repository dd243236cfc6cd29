using System.Text.Json.Nodes;
using GbaEngine.Training;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// bias.jsonl (GBA and BA): one line per application of the bias rule, with how many neurons it lowered and raised,
/// the buffer's mean number of firing neurons per token, ‖b_pre‖ and the spread of b, so that a run's adaptation can be
/// followed (a collapse to a dense code shows as L0 climbing while few neurons are lowered).
/// </summary>
public sealed class BiasLog(TextWriter w) : ITrainingObserver
{
    public const string FileName = "bias.jsonl";

    public void OnBiasUpdate(BiasUpdateReport r)
    {
        w.WriteLine(new JsonObject
        {
            ["step"] = r.Step, ["lowered"] = r.Rule.Lowered, ["raised"] = r.Rule.Raised, ["skipped"] = r.Rule.Skipped,
            ["buffer_l0"] = r.BufferL0, ["pre_bias_norm"] = r.PreBiasNorm,
            ["bias_p10"] = r.BiasP10, ["bias_p50"] = r.BiasMedian, ["bias_p90"] = r.BiasP90,
        }.ToResultJson());
    }

    public void OnStep(in StepReport r)
    {
        if (r.Step == r.TotalSteps) w.Flush();
    }
}
