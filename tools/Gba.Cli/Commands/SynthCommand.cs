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
    static readonly HashSet<string> ValueOptions =
        ["--out", "--tokens", "--seed", "--features", "--dim", "--sparsity", "--profile", "--exponent", "--noise", "--magnitude-min", "--magnitude-max", "--dtype"];
    static readonly HashSet<string> Flags = ["--json", "--quiet", "--help", "-h"];

    public const string ActivationsFile = "activations.npy", FeaturesFile = "features.npy", SpecFile = "synth.json";

    const string Help = """
        gba synth: write a synthetic dataset from the paper's model, with its ground truth

        Usage: gba synth --out DIR [--tokens N] [--seed S] [generator options] [--dtype f32|f16] [--json] [--quiet]

          --out DIR         writes DIR/activations.npy [N x d], DIR/features.npy [n x d] (the true features, unit rows)
                            and DIR/synth.json (generator spec, seed, per-feature frequencies, file names)
          --tokens N        rows to write (suffix k/M/G; default 100k)
          --seed S          the generator seed (default 1); the rows are `gba train --seed S`'s synthetic training stream
          --features n  --dim d  --sparsity s  --profile uniform|powerlaw  --exponent A  --noise SIGMA
          --magnitude-min X  --magnitude-max X     as for gba train (defaults: the demo's problem)
          --dtype f32|f16   element type of activations.npy (default f32)
          --json            last stdout line: one JSON object with the paths, shape and spec

        Train on it with feature recovery: gba train --data DIR/activations.npy --ground-truth DIR/features.npy

        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        if (o.Positional.Count > 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        var outDir = o.String("--out") ?? throw new UsageException("--out DIR is required");
        long tokens = o.Long("--tokens", 100_000);
        if (tokens < 1) throw new UsageException($"--tokens must be positive (got {tokens})");
        var element = o.String("--dtype") switch
        {
            null or "f32" => NpyWriter.Element.F32,
            "f16" => NpyWriter.Element.F16,
            var other => throw new UsageException($"--dtype '{other}': expected f32 or f16"),
        };
        ulong seed = o.ULong("--seed", 1);
        var spec = DataSource.ReadSyntheticSpec(o);
        FlagTerms.ValidateSynthetic(spec);
        var model = new SyntheticModel(spec, seed);
        Directory.CreateDirectory(outDir);

        var progress = WorkProgress.For(stderr, o.Flag("--quiet"), "rows", tokens);
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
        if (o.Flag("--json"))
            stdout.WriteLine(new JsonObject
            {
                ["activations"] = Path.GetFullPath(Path.Combine(outDir, ActivationsFile)),
                ["features"] = Path.GetFullPath(Path.Combine(outDir, FeaturesFile)),
                ["spec"] = Path.GetFullPath(Path.Combine(outDir, SpecFile)),
                ["tokens"] = tokens, ["dim"] = spec.Dim, ["feature_count"] = spec.Features, ["seed"] = seed,
            }.ToJsonString());
        return CliApp.Ok;
    }
}
