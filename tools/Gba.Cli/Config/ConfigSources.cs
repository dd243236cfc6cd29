using System.Text.Json.Nodes;
using GbaEngine.Cli.Sweeps;
using GbaEngine.Training;

namespace GbaEngine.Cli.Config;

/// <summary>
/// Where `gba train` takes options from besides the command line: `--config FILE` or one point of a
/// sweep (`--sweep FILE --index I`). Command-line flags always win; the result is one
/// <see cref="OptionReader"/> the rest of the command reads as if everything had been typed.
/// </summary>
public static class ConfigSources
{
    /// <summary>Options a config file may set: everything that shapes the run, nothing about where output goes.</summary>
    public static readonly IReadOnlySet<string> Configurable = new HashSet<string>
    {
        "--method", "--d-sae", "--batch", "--steps", "--tokens", "--lr", "--weight-decay", "--seed", "--threads",
        "--groups", "--htf", "--ltf", "--taf", "--k", "--gate", "--bias-init", "--buffer-tokens", "--init-tokens",
        "--normalize", "--eval-every", "--eval-tokens", "--features", "--dim", "--sparsity", "--profile", "--exponent",
        "--noise", "--magnitude-min", "--magnitude-max", "--kernels", "--data", "--dtype", "--tensor", "--row-limit",
        "--untied", "--skip-nonfinite", "--token-text", "--ground-truth", "--data-seed", "--model-name", "--hook-name",
        "--checkpoint-every", "--keep-checkpoints",
        "--l1", "--l1-warmup", "--l0-coefficient", "--ste-bandwidth", "--threshold-init", "--threshold-decay", "--mp-steps",
        "--mix-sparsity", "--mix-fraction",
        "--lr-warmup", "--lr-schedule", "--lr-decay-start", "--aux-k", "--aux-k-coefficient", "--dead-tokens", "--resample-every",
    };

    /// <summary>Pairs where a command-line value replaces the file's other one instead of clashing with it.</summary>
    static readonly (string, string)[] Exclusive = [("--steps", "--tokens")];

    /// <summary>The run's output directory after --config/--sweep are applied (null: no output).</summary>
    public static string? Apply(OptionReader o, Func<string, string?> environment)
    {
        string? outDir = o.String("--out");
        if (o.String("--sweep") is { } sweepPath)
        {
            if (o.Has("--config")) throw new UsageException("give --config or --sweep, not both");
            var plan = SweepPlan.Load(sweepPath, outDir);
            var point = plan.Select(o.String("--index"), environment("SLURM_ARRAY_TASK_ID"));
            o.AddDefaults(point.Options, $"{sweepPath} (run {point.Index})", Configurable);
            outDir = Path.Combine(plan.Directory, point.Name);
        }
        else if (o.Has("--index")) throw new UsageException("--index needs --sweep FILE");
        else if (o.String("--config") is { } configPath)
            o.AddDefaults(RunConfig.Load(configPath), configPath, Configurable);
        foreach (var (a, b) in Exclusive)
        {
            if (!o.Has(a) || !o.Has(b)) continue;
            if (o.FromCommandLine(a) && !o.FromCommandLine(b)) o.Remove(b);
            else if (o.FromCommandLine(b) && !o.FromCommandLine(a)) o.Remove(a);
        }
        return outDir;
    }

    /// <summary>
    /// Every option that determines a run, resolved (defaults included, so a later change of a default
    /// does not change a repeat): the trainer's settings plus the data source's.
    /// </summary>
    /// <param name="dim">Width of the data (resolves defaults that depend on it, such as k_aux = d/2).</param>
    public static JsonObject Effective(TrainerOptions t, JsonObject dataOptions, int dim)
    {
        var o = new JsonObject
        {
            ["method"] = Commands.TrainCommand.MethodName(t.Method),
            ["d_sae"] = t.Neurons,
            ["untied"] = !t.Tied,
            ["gate"] = t.Gate.ToString().ToLowerInvariant(),
            ["k"] = t.K,
            ["groups"] = t.Groups,
            ["htf"] = t.Htf,
            ["ltf"] = t.Ltf,
            ["taf"] = t.Taf,
            ["bias_init"] = t.BiasInit.ToString().ToLowerInvariant(),
            ["buffer_tokens"] = t.BufferTokens,
            ["init_tokens"] = t.InitTokens,
            ["batch"] = t.BatchSize,
            ["tokens"] = t.Tokens,
            ["lr"] = t.LearningRate,
            ["weight_decay"] = t.WeightDecay,
            ["seed"] = t.Seed,
            ["threads"] = t.Threads,
            ["normalize"] = t.Normalization.ToString().ToLowerInvariant(),
            ["eval_every"] = t.EvalEvery,
            ["lr_warmup"] = t.LrWarmup,
            ["lr_schedule"] = t.LrSchedule.ToString().ToLowerInvariant(),
            ["lr_decay_start"] = t.LrDecayStart,
        };
        if (t.UsesAuxK || t.Method is TrainingMethod.TopK or TrainingMethod.BatchTopK)
        {
            o["aux_k"] = t.UsesAuxK ? t.ResolvedAuxK(dim) : 0;
            if (t.UsesAuxK) { o["aux_k_coefficient"] = t.AuxKCoefficient; o["dead_tokens"] = t.ResolvedDeadTokens; }
        }
        if (t.Method is TrainingMethod.L1 or TrainingMethod.JumpReluL0)
        {
            o["resample_every"] = t.ResampleEvery;
            if (t.UsesResampling) o["dead_tokens"] = t.ResolvedDeadTokens;
        }
        // Each baseline's own settings (other methods ignore them, so their configs leave them out).
        switch (t.Method)
        {
            case TrainingMethod.L1: o["l1"] = t.L1Coefficient; o["l1_warmup"] = t.L1Warmup; break;
            case TrainingMethod.BatchTopK: o["threshold_decay"] = t.ThresholdDecay; break;
            case TrainingMethod.JumpReluL0:
                o["l0_coefficient"] = t.L0Coefficient; o["ste_bandwidth"] = t.SteBandwidth; o["threshold_init"] = t.InitialThreshold;
                break;
            case TrainingMethod.Mp: o["mp_steps"] = t.MpSteps; break;
        }
        foreach (var (k, v) in dataOptions) o[k] = v?.DeepClone();
        return o;
    }
}
