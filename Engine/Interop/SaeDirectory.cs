using GbaEngine.Model;

namespace GbaEngine.Interop;

/// <summary>
/// Finds out what an SAE directory is and loads it: sae_weights.safetensors means the SAELens layout
/// (this engine's export is one, marked by cfg.json's "gba_engine" key), sae.safetensors means
/// sparsify, and a `gba train --out` run directory is followed into its sae/ subdirectory (and into
/// sae/&lt;hookpoint&gt;/ for a sparsify export). A directory holding exactly one SAE in a subdirectory (a
/// sparsify hookpoint) stands for it; with several, the error lists them. A path to one of those files
/// stands for its directory. Anything else is one
/// <see cref="InvalidDataException"/> saying what was looked for.
/// </summary>
public static class SaeDirectory
{
    /// <summary>The layout of <paramref name="path"/> and the directory that holds the SAE files.</summary>
    public static (SaeLayout Layout, string Directory) Detect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            string name = Path.GetFileName(path);
            if (name is SaeLensExport.ConfigFile or SaeLensExport.WeightsFile or SparsifyImport.WeightsFile)
                path = Path.GetDirectoryName(Path.GetFullPath(path))!;
            else
                throw SaeFormatErrors.Create(path, $"expected an SAE directory (or its {SaeLensExport.ConfigFile}), found a file.");
        }
        if (!Directory.Exists(path)) throw SaeFormatErrors.Create(path, "directory not found.");

        if (File.Exists(Path.Combine(path, SaeLensExport.WeightsFile)))
            return (IsEngineExport(path) ? SaeLayout.GbaEngine : SaeLayout.SaeLens, path);
        if (File.Exists(Path.Combine(path, SparsifyImport.WeightsFile)))
            return (SaeLayout.Sparsify, path);
        var runSae = Path.Combine(path, "sae");
        if (File.Exists(Path.Combine(runSae, SaeLensExport.WeightsFile)))
            return (IsEngineExport(runSae) ? SaeLayout.GbaEngine : SaeLayout.SaeLens, runSae);
        // `gba train --format sparsify` writes sae/<hookpoint>/; one hookpoint is unambiguous.
        if (Directory.Exists(runSae) && Hookpoints(runSae) is [var only])
            return Detect(Path.Combine(runSae, only));

        var hookpoints = Hookpoints(path);
        if (hookpoints.Count == 1) return Detect(Path.Combine(path, hookpoints[0]));
        if (hookpoints.Count > 0)
            throw SaeFormatErrors.Create(path, $"holds {hookpoints.Count} SAEs in subdirectories ({string.Join(", ", hookpoints.Take(8))}{(hookpoints.Count > 8 ? ", ..." : "")}): name one of them.");
        if (File.Exists(Path.Combine(path, SaeLensExport.ConfigFile)))
            throw SaeFormatErrors.Create(path, $"has {SaeLensExport.ConfigFile} but no weights: expected {SaeLensExport.WeightsFile} (SAELens) or {SparsifyImport.WeightsFile} (sparsify) next to it.");
        throw SaeFormatErrors.Create(path,
            $"not an SAE directory: expected {SaeLensExport.ConfigFile} with {SaeLensExport.WeightsFile} (SAELens, this engine's export) or {SparsifyImport.WeightsFile} (sparsify).");
    }

    /// <summary>Subdirectories of <paramref name="path"/> that hold an SAE's weights (sparsify keeps one per hookpoint), by name.</summary>
    static List<string> Hookpoints(string path) => Directory.EnumerateDirectories(path)
        .Where(dir => File.Exists(Path.Combine(dir, SparsifyImport.WeightsFile)) || File.Exists(Path.Combine(dir, SaeLensExport.WeightsFile)))
        .Select(dir => Path.GetFileName(dir)!).Order(StringComparer.Ordinal).ToList();

    /// <summary>Reads the SAE at <paramref name="path"/> (see <see cref="Detect"/>); <see cref="Inference.SaeModel.Load"/> runs it.</summary>
    internal static SaeWeights Read(string path)
    {
        var (layout, directory) = Detect(path);
        return layout == SaeLayout.Sparsify ? SparsifyImport.Read(directory) : SaeLensImport.Read(directory);
    }

    /// <summary>A cheap look at cfg.json for our own key; a broken cfg.json is reported by the full read.</summary>
    static bool IsEngineExport(string directory)
    {
        var cfg = Path.Combine(directory, SaeLensExport.ConfigFile);
        try
        {
            return File.Exists(cfg) && SaeConfigFile.Read(cfg, "").Has("gba_engine");
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }
}
