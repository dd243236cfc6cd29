using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// Reads what commands need from a `gba train --out` directory (or a bare SAELens-layout SAE
/// directory): the decoder directions and the per-neuron statistics.
/// </summary>
public static class RunDirectory
{
    /// <summary>
    /// Decoder rows [M × d] (any scale) of the SAE in a run directory (its sae/) or an SAE directory in any
    /// layout the engine loads (its own export, SAELens, sparsify).
    /// </summary>
    public static (float[] Rows, int Neurons, int Dim) ReadDecoder(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{dir}: no such directory.");
        var model = Inference.SaeModel.Load(dir);
        var w = new float[(long)model.Features * model.Dim];
        for (int m = 0; m < model.Features; m++) model.DecoderRow(m).CopyTo(w.AsSpan(m * model.Dim, model.Dim));
        return (w, model.Features, model.Dim);
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
