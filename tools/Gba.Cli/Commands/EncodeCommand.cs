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
    static readonly OptionSpec Out = OptionSpec.Valued("out", "Codes", "FILE",
        "the codes: tensors indptr (int64 [N+1]), indices (int32 [nnz]) and values (float32 [nnz])\n" +
        "of a CSR matrix [N, d_sae]; __metadata__ holds format \"csr\", shape, the SAE and the data.\n" +
        "Python: t = safetensors.numpy.load_file(FILE)\n" +
        "        codes = scipy.sparse.csr_matrix((t[\"values\"], t[\"indices\"], t[\"indptr\"]), shape=(N, d_sae))\n" +
        "Written beside FILE and renamed into place when complete.");
    static readonly OptionSpec Batch = OptionSpec.Valued("batch", "Codes", "N", "rows per encoder call (default 4096)") with { Min = 1 };

    /// <summary>`gba encode`'s options.</summary>
    public static readonly OptionSchema Schema = new("encode",
        "activations -> sparse feature codes (one safetensors file in CSR form) through a trained SAE",
        [
            SharedOptions.Sae,
            SharedOptions.Data,
            .. SharedOptions.Loader,
            Out, Batch,
            SharedOptions.Threads, SharedOptions.Kernels, SharedOptions.Json, SharedOptions.Quiet,
        ])
    {
        Usage = ["--sae DIR --data PATH... --out CODES.safetensors [--batch N] [--threads T] [--json] [--quiet]"],
        Notes = "Every row is encoded, shards in order, no shuffle and no hold-out: row i of the codes is row i of the concatenated shards.",
    };

    /// <summary>Runs `gba encode` with its parsed options.</summary>
    public static int Run(OptionReader o, TextWriter stdout, TextWriter stderr)
    {
        var paths = SharedOptions.DataPaths(o);
        string saePath = o.Required(SharedOptions.Sae.Flag);
        if (paths.Count == 0) throw new UsageException("--data PATH is required");
        string outPath = o.Required(Out.Flag);
        var kernels = SharedOptions.ReadKernels(o);
        int threads = SharedOptions.ReadThreads(o), batch = o.Int(Batch.Flag, 4096);

        using var model = CorpusEncoder.Open(saePath, threads, kernels);
        using var dataset = ActivationDataset.Open(paths, SharedOptions.ReadLoader(o) with { EvalRows = long.MaxValue });
        if (dataset.Dim != model.Dim)
            throw new InvalidDataException($"{dataset.Shards[0].Path}: rows have d = {dataset.Dim}, but the SAE in {saePath} expects d_in = {model.Dim}.");
        long rows = dataset.UsedRows;
        if (Path.GetDirectoryName(Path.GetFullPath(outPath)) is { } dir) Directory.CreateDirectory(dir);

        var clock = Stopwatch.StartNew();
        var progress = WorkProgress.For(stderr, o.Flag(SharedOptions.Quiet.Flag), "rows", rows);
        using var writer = new CsrSafetensorsWriter(outPath, model.Features);
        using (var stream = dataset.OpenEvalStream())
        {
            var x = new float[(long)Math.Min(batch, rows) * model.Dim];
            for (long done = 0; done < rows;)
            {
                int n = (int)Math.Min(batch, rows - done);
                stream.NextBatch(x, n);
                model.Encode(x, n, writer.AppendRow);
                done += n;
                progress.Report(done);
            }
        }
        long nnz = writer.NonZeros;
        writer.Complete(new Dictionary<string, string>
        {
            ["producer"] = "gba encode (GbaEngine)",
            ["sae"] = model.Source ?? Path.GetFullPath(saePath),
            ["d_in"] = model.Dim.ToString(CultureInfo.InvariantCulture),
            ["d_sae"] = model.Features.ToString(CultureInfo.InvariantCulture),
            ["activation"] = model.Activation,
            ["data"] = string.Join(";", dataset.Shards.Select(s => Path.GetFullPath(s.Path))),
            ["rows"] = "dataset rows in file order (shards concatenated), values = feature activations as the SAE defines them",
        });
        double seconds = clock.Elapsed.TotalSeconds;
        var ci = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(ci, $"wrote {outPath}: {rows:N0} x {model.Features} CSR, {nnz:N0} non-zeros (L0 {(double)nnz / rows:F2}) in {seconds:F1} s ({rows / Math.Max(seconds, 1e-9):N0} rows/s)"));
        if (o.Flag(SharedOptions.Json.Flag))
            stdout.WriteLine(new JsonObject
            {
                ["out"] = Path.GetFullPath(outPath), ["rows"] = rows, ["d_sae"] = model.Features, ["nnz"] = nnz,
                ["l0"] = (double)nnz / rows, ["seconds"] = Math.Round(seconds, 3), ["rows_per_second"] = Math.Round(rows / Math.Max(seconds, 1e-9), 1),
            }.ToResultJson());
        return CliApp.Ok;
    }
}
