using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Kernels;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The options several commands take, each declared once, with the one reader of each: the run options (threads,
/// kernel set), output switches, the SAE and activation files, and the loader's flags. A command lists the ones
/// it takes in its schema (binding them, or filing them under its own help group, with `with`).
/// </summary>
public static class SharedOptions
{
    /// <summary>The help group of the loader's flags and the files they read.</summary>
    public const string DataFiles = "Data files";

    /// <summary>--threads T: worker threads; results never depend on it.</summary>
    public static readonly OptionSpec Threads =
        OptionSpec.Valued("threads", "Run", "T", "worker threads (default: all cores)", OptionScope.Run) with { Min = 1 };

    /// <summary>--kernels SET: the kernel set of the model or trainer the command builds (never process-wide).</summary>
    public static readonly OptionSpec Kernels =
        OptionSpec.Valued("kernels", "Run", "scalar|avx2|avx512", "kernel set of the SAE's computations (default: GBA_KERNELS, else the best this CPU has)", OptionScope.Run);

    /// <summary>--json: the last stdout line is one JSON object.</summary>
    public static readonly OptionSpec Json = OptionSpec.Switch("json", "Output", "last stdout line: one JSON object");

    /// <summary>--quiet: nothing but errors (and the --json object); see CliApp.RunQuietly.</summary>
    public static readonly OptionSpec Quiet = OptionSpec.Switch("quiet", "Output", "print nothing but errors (and the --json object)");

    /// <summary>--sae DIR: an SAE directory in any layout the engine loads.</summary>
    public static readonly OptionSpec Sae = OptionSpec.Valued("sae", "SAE", "DIR",
        "an SAE directory: this engine's export (or a `gba train --out` run directory),\nSAELens (cfg.json + sae_weights.safetensors) or sparsify (cfg.json + sae.safetensors)");

    /// <summary>--data PATH: activation files, repeatable; paths after it are files too (a shell glob expands to several).</summary>
    public static readonly OptionSpec Data =
        new("data", OptionKind.List, OptionScope.Run, DataFiles, "PATH", ".npy, .safetensors, raw; files, directories or globs (repeatable)");

    /// <summary>--dtype: the element type of raw files.</summary>
    public static readonly OptionSpec RawDType = OptionSpec.Valued("dtype", DataFiles, "f32|f16|bf16|f64", "element type of raw files (with --dim)", OptionScope.Run);

    /// <summary>--dim: the row width of raw files (gba train's synthetic width too).</summary>
    public static readonly OptionSpec Dim = OptionSpec.Valued("dim", DataFiles, "d", "row width d (of raw files, with --dtype; of the synthetic data in train, demo and synth)", OptionScope.Run) with { Min = 1 };

    /// <summary>--tensor NAME: which tensor of a safetensors file.</summary>
    public static readonly OptionSpec Tensor = OptionSpec.Valued("tensor", DataFiles, "NAME", "safetensors tensor", OptionScope.Run);

    /// <summary>--row-limit N: use at most N rows.</summary>
    public static readonly OptionSpec RowLimit = OptionSpec.Valued("row-limit", DataFiles, "N", "use at most N rows", OptionScope.Run) with { Min = 1 };

    /// <summary>--skip-nonfinite: skip rows holding NaN or Inf.</summary>
    public static readonly OptionSpec SkipNonFinite = OptionSpec.Switch("skip-nonfinite", DataFiles, "skip rows with NaN/Inf (default: an error)", OptionScope.Run);

    /// <summary>--buffered-reads: read through the file handle, not a memory map (a file truncated while in use is then always a clean error).</summary>
    public static readonly OptionSpec BufferedReads = OptionSpec.Switch("buffered-reads", DataFiles,
        "read files through buffers, not memory maps: a file truncated while in use is then always a clean error", OptionScope.Run);

    /// <summary>--ground-truth FILE: the true features of synthetic data.</summary>
    public static readonly OptionSpec GroundTruth = OptionSpec.Valued("ground-truth", DataFiles, "FILE.npy",
        "true features [n x d] (.npy or .safetensors): FRR@0.8/0.9 and per-feature best cosines, recovery.json", OptionScope.Run);

    /// <summary>How the loader reads activation files: --dtype, --dim, --tensor, --row-limit, --skip-nonfinite.</summary>
    public static readonly IReadOnlyList<OptionSpec> Loader = [RawDType, Dim, Tensor, RowLimit, SkipNonFinite, BufferedReads];

    /// <summary>The files of --data and the paths after it; positional paths without --data are an error.</summary>
    public static List<string> DataPaths(OptionReader o)
    {
        if (o.Positional.Count > 0 && o.Strings(Data.Flag).Count == 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        return [.. o.Strings(Data.Flag), .. o.Positional];
    }

    /// <summary>--threads, all cores by default.</summary>
    public static int ReadThreads(OptionReader o) => o.Int(Threads.Flag, Environment.ProcessorCount);

    /// <summary>--kernels: the set named, checked against this CPU; null when not given (the model's default applies).</summary>
    public static KernelSet? ReadKernels(OptionReader o)
    {
        if (o.String(Kernels.Flag) is not { } name) return null;
        KernelSet set;
        try { set = KernelSelector.Parse(name); }
        catch (ArgumentException) { throw new UsageException($"--kernels '{name}': expected scalar, avx2 or avx512"); }
        if (!KernelSelector.IsSupported(set))
            throw new UsageException($"--kernels {name}: this CPU does not support it (best available: {KernelSelector.Best.ToString().ToLowerInvariant()})");
        return set;
    }

    /// <summary>How to read raw files (--dtype and --dim, both or neither) and which safetensors tensor (--tensor).</summary>
    public static LoaderOptions ReadFormat(OptionReader o)
    {
        ActivationDType? dtype = null;
        if (o.String(RawDType.Flag) is { } dt)
            dtype = ActivationDTypes.TryParse(dt) ?? throw new UsageException($"--dtype '{dt}': expected f32, f16, bf16 or f64");
        if (dtype is not null != o.Has(Dim.Flag)) throw new UsageException("raw files need both --dtype and --dim");
        return new LoaderOptions { RawDType = dtype, RawDim = dtype is null ? null : o.Int(Dim.Flag, 0), TensorName = o.String(Tensor.Flag) };
    }

    /// <summary>How the loader reads activation files, from all the loader's flags (--skip-nonfinite, --buffered-reads too).</summary>
    public static LoaderOptions ReadLoader(OptionReader o) => ReadFormat(o) with
    {
        RowLimit = o.Has(RowLimit.Flag) ? o.Long(RowLimit.Flag, 0) : null,
        NonFinite = o.Flag(SkipNonFinite.Flag) ? NonFiniteRows.Skip : NonFiniteRows.Error,
        Reads = o.Flag(BufferedReads.Flag) ? FileReads.Buffered : FileReads.Mapped,
    };
}
