using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Formats;
using GbaEngine.Synthetic;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba synth --out DIR`: a synthetic dataset from the paper's model written to files, with its ground
/// truth: DIR/activations.npy [N × d], DIR/features.npy [n × d] (unit rows) and DIR/synth.json (the
/// generator spec, seed, per-feature frequencies and the file names). The tokens are the training
/// stream `gba train` draws from the same options, so `gba train --data DIR/activations.npy
/// --ground-truth DIR/features.npy` reports feature recovery on file data.
/// </summary>
public static class SynthCommand
{
    public const string ActivationsFile = "activations.npy", FeaturesFile = "features.npy", SpecFile = "synth.json";

    static readonly OptionSpec Out = OptionSpec.Valued("out", "Output", "DIR",
        "writes DIR/activations.npy [N x d], DIR/features.npy [n x d] (the true features, unit rows)\nand DIR/synth.json (generator spec, seed, per-feature frequencies, file names)");
    static readonly OptionSpec Tokens = OptionSpec.Valued("tokens", "Output", "N", "rows to write (suffix k/M/G; default 100k)") with { Min = 1 };
    static readonly OptionSpec Seed = OptionSpec.Valued("seed", "Output", "S", "the generator seed (default 1); the rows are `gba train --seed S`'s synthetic training stream");
    static readonly OptionSpec DType = OptionSpec.Valued("dtype", "Output", "f32|f16", "element type of activations.npy (default f32)");

    /// <summary>`gba synth`'s options: the generator's are gba train's (<see cref="SyntheticOptions"/>).</summary>
    public static readonly OptionSchema Schema = new("synth",
        "write a synthetic dataset (activations .npy, true features .npy, generator spec .json)",
        [Out, Tokens, Seed, DType, .. SyntheticOptions.All, SharedOptions.Json, SharedOptions.Quiet])
    {
        Usage = ["--out DIR [--tokens N] [--seed S] [generator options] [--dtype f32|f16] [--json] [--quiet]"],
        Notes = """
            The generator options default to the demo's problem.
            Train on it with feature recovery: gba train --data DIR/activations.npy --ground-truth DIR/features.npy
            """,
    };

    /// <summary>Runs `gba synth` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        o.NoPositional();
        var outDir = o.Required(Out.Flag);
        long tokens = o.Long(Tokens.Flag, 100_000);
        var element = o.String(DType.Flag) switch
        {
            null or "f32" => NpyWriter.Element.F32,
            "f16" => NpyWriter.Element.F16,
            var other => throw new UsageException($"--dtype '{other}': expected f32 or f16"),
        };
        ulong seed = o.ULong(Seed.Flag, 1);
        var spec = SyntheticOptions.ReadSpec(o);
        FlagTerms.ValidateSynthetic(spec);
        var model = new SyntheticModel(spec, seed);
        Directory.CreateDirectory(outDir);

        var progress = WorkProgress.For(stderr, o.Flag(SharedOptions.Quiet.Flag), "rows", tokens);
        using (var stream = model.OpenStream(1))
            NpyWriter.Write(Path.Combine(outDir, ActivationsFile), tokens, spec.Dim, element, (_, n, dst) => stream.NextBatch(dst, n), progress.Report);
        NpyWriter.Write(Path.Combine(outDir, FeaturesFile), spec.Features, spec.Dim, NpyWriter.Element.F32,
            (first, n, dst) => model.Features.AsSpan((int)(first * spec.Dim), n * spec.Dim).CopyTo(dst));

        var description = new JsonObject
        {
            ["generator"] = "gba synth (GbaEngine.Synthetic.SyntheticModel, training stream 1)",
            ["spec"] = CliJson.Write(spec),
            ["seed"] = seed,
            ["tokens"] = tokens,
            ["dim"] = spec.Dim,
            ["activations"] = ActivationsFile,
            ["activations_dtype"] = element == NpyWriter.Element.F32 ? "f32" : "f16",
            ["features"] = FeaturesFile,
            ["feature_frequencies"] = new JsonArray(model.Frequencies.Select(f => (JsonNode)f).ToArray()),
        };
        RunConfig.WriteAtomically(Path.Combine(outDir, SpecFile), description);
        stdout.WriteLine($"wrote {tokens:N0} x {spec.Dim} activations to {Path.Combine(outDir, ActivationsFile)}, {spec.Features} true features to {Path.Combine(outDir, FeaturesFile)}");
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["activations"] = Path.GetFullPath(Path.Combine(outDir, ActivationsFile)),
                ["features"] = Path.GetFullPath(Path.Combine(outDir, FeaturesFile)),
                ["spec"] = Path.GetFullPath(Path.Combine(outDir, SpecFile)),
                ["tokens"] = tokens, ["dim"] = spec.Dim, ["feature_count"] = spec.Features, ["seed"] = seed,
            }.ToResultJson());
        return CliApp.Ok;
    }
}
