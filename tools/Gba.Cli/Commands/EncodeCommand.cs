using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Formats;
using GbaEngine.Uses;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// `gba encode --sae DIR --data PATH... --out CODES.safetensors`: every activation row (shards in order,
/// no shuffle, no hold-out) through an SAE into a sparse code file for downstream use: one safetensors
/// file in CSR form (indptr I64 [N+1], indices I32 [nnz], values F32 [nnz]; see
/// <see cref="CsrSafetensorsWriter"/>), loadable with safetensors + scipy.sparse.csr_matrix.
/// </summary>
public static class EncodeCommand
{
    static readonly HashSet<string> ValueOptions = ["--sae", "--data", "--out", "--batch", "--threads", "--dtype", "--dim", "--tensor", "--row-limit", "--kernels"];
    static readonly HashSet<string> Flags = ["--json", "--quiet", "--help", "-h", "--skip-nonfinite"];
    static readonly HashSet<string> Repeatable = ["--data"];

    const string Help = """
        gba encode: activations -> sparse feature codes, one safetensors file in CSR form

        Usage: gba encode --sae DIR --data PATH... --out CODES.safetensors [--batch N] [--threads T] [--json] [--quiet]

          --sae DIR          an SAE directory: this engine's export (or a `gba train --out` run directory; an MP-SAE runs
                             its trained pursuit, values in the export's units), SAELens (cfg.json + sae_weights.safetensors)
                             or sparsify (cfg.json + sae.safetensors)
          --data PATH...     activation files (.npy, .safetensors, raw), directories or globs; every row is encoded,
                             shards in order (row i of the codes is row i of the concatenated shards)
          --out FILE         the codes: tensors indptr (int64 [N+1]), indices (int32 [nnz]) and values (float32 [nnz])
                             of a CSR matrix [N, d_sae]; __metadata__ holds format "csr", shape, the SAE and the data.
                             Python: t = safetensors.numpy.load_file(FILE)
                                     codes = scipy.sparse.csr_matrix((t["values"], t["indices"], t["indptr"]), shape=(N, d_sae))
                             Written beside FILE and renamed into place when complete.
          --batch N          rows per encoder call (default 4096)   --threads T (default: all cores)
          --dtype f32|f16|bf16 --dim d (raw files)   --tensor NAME (safetensors)   --row-limit N   --skip-nonfinite
          --kernels scalar|avx2|avx512   --json (last stdout line: one JSON object)   --quiet (no progress)

        """;

    public static int Run(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var o = new OptionReader(args, ValueOptions, Flags, Repeatable);
        if (o.Flag("--help") || o.Flag("-h")) { stdout.Write(Help); return CliApp.Ok; }
        var paths = o.Strings("--data").Concat(o.Positional).ToList();
        if (o.Positional.Count > 0 && o.Strings("--data").Count == 0) throw new UsageException($"unexpected argument '{o.Positional[0]}'");
        string saePath = o.String("--sae") ?? throw new UsageException("--sae DIR is required");
        if (paths.Count == 0) throw new UsageException("--data PATH is required");
        string outPath = o.String("--out") ?? throw new UsageException("--out FILE is required");
        if (o.String("--kernels") is { } k) Kernels.KernelSelector.Force(Kernels.KernelSelector.Parse(k));
        int threads = o.Int("--threads", Environment.ProcessorCount), batch = o.Int("--batch", 4096);
        if (threads < 1) throw new UsageException($"--threads must be at least 1 (got {threads})");
        if (batch < 1) throw new UsageException($"--batch must be at least 1 (got {batch})");

        using var encoder = CorpusEncoder.Open(saePath, threads);
        using var dataset = ActivationDataset.Open(paths, DataSource.ReadLoaderOptions(o) with { EvalRows = long.MaxValue });
        if (dataset.Dim != encoder.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE in {saePath} expects d_in = {encoder.Dim}.");
        long rows = dataset.UsedRows;
        if (Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } dir) Directory.CreateDirectory(dir);

        var clock = Stopwatch.StartNew();
        var progress = WorkProgress.For(stderr, o.Flag("--quiet"), "rows", rows);
        using var writer = new CsrSafetensorsWriter(outPath, encoder.Features);
        using (var stream = dataset.OpenEvalStream())
        {
            var x = new float[(long)Math.Min(batch, rows) * encoder.Dim];
            for (long done = 0; done < rows;)
            {
                int n = (int)Math.Min(batch, rows - done);
                stream.NextBatch(x, n);
                encoder.Encode(x, n, writer.AppendRow);
                done += n;
                progress.Report(done);
            }
        }
        long nnz = writer.NonZeros;
        writer.Complete(new Dictionary<string, string>
        {
            ["producer"] = "gba encode (GbaEngine)",
            ["sae"] = encoder.Source ?? Path.GetFullPath(saePath),
            ["d_in"] = encoder.Dim.ToString(CultureInfo.InvariantCulture),
            ["d_sae"] = encoder.Features.ToString(CultureInfo.InvariantCulture),
            ["activation"] = encoder.Activation,
            ["data"] = string.Join(";", dataset.Shards.Select(s => Path.GetFullPath(s.Path))),
            ["rows"] = "dataset rows in file order (shards concatenated), values = feature activations as the SAE defines them",
        });
        double seconds = clock.Elapsed.TotalSeconds;
        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(ci, $"wrote {outPath}: {rows:N0} x {encoder.Features} CSR, {nnz:N0} non-zeros (L0 {(double)nnz / rows:F2}) in {seconds:F1} s ({rows / Math.Max(seconds, 1e-9):N0} rows/s)"));
        if (o.Flag("--json"))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = Path.GetFullPath(outPath), ["rows"] = rows, ["d_sae"] = encoder.Features, ["nnz"] = nnz,
                ["l0"] = (double)nnz / rows, ["seconds"] = Math.Round(seconds, 3), ["rows_per_second"] = Math.Round(rows / Math.Max(seconds, 1e-9), 1),
            }.ToJsonString());
        return CliApp.Ok;
    }
}
