using System.Text.Json.Nodes;
using GbaEngine.Activations;
using GbaEngine.Cli.Config;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// Reads what commands need from a `gba train --out` directory (or a bare SAELens-layout SAE
/// directory): the decoder directions and the per-neuron statistics.
/// </summary>
public static class RunDirectory
{
    /// <summary>The SAELens weights file of a run directory (DIR/sae/) or of an SAE directory itself.</summary>
    public static string WeightsFile(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such directory.");
        foreach (var candidate in new[] { Path.Combine(dir, "sae", Interop.SaeLensExport.WeightsFile), Path.Combine(dir, Interop.SaeLensExport.WeightsFile) })
            if (File.Exists(candidate)) return candidate;
        throw new FileNotFoundException($"{dir}: no sae/{Interop.SaeLensExport.WeightsFile} (nor {Interop.SaeLensExport.WeightsFile}); runs with --normalize pertoken are not exported.");
    }

    /// <summary>W_dec [M × d] rows (decoder directions, any scale).</summary>
    public static (float[] Rows, int Neurons, int Dim) ReadDecoder(string dir)
    {
        var file = WeightsFile(dir);
        // The activation loader reads any 2-D F32/F16/BF16 safetensors tensor by name, with every header check.
        using var probe = ActivationDataset.Open([file], new LoaderOptions { TensorName = "W_dec" });
        using var all = ActivationDataset.Open([file], new LoaderOptions { TensorName = "W_dec", EvalRows = probe.TokenCount });
        using var rows = all.OpenEvalStream();
        var w = new float[all.TokenCount * all.Dim];
        rows.NextBatch(w, (int)all.TokenCount);
        return (w, (int)all.TokenCount, all.Dim);
    }

    /// <summary>neurons.json of a run directory, or null when there is none (a bare SAE directory).</summary>
    public static JsonObject? ReadNeurons(string dir)
    {
        var path = Path.Combine(dir, RunArtefacts.NeuronsFile);
        return File.Exists(path) ? RunConfig.Parse(path) : null;
    }

    /// <summary>A float array of neurons.json (null when the key is absent or null).</summary>
    public static float[]? Floats(JsonObject? obj, string key, string source)
    {
        if (obj?[key] is not JsonArray a) return null;
        try { return a.Select(n => n is null ? float.NaN : (float)n.GetValue<double>()).ToArray(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{source}: \"{key}\" must be an array of numbers.");
        }
    }
}
