namespace GbaEngine.Formats;

/// <summary>A loader setting that gets past a problem, so an application can name it in its own terms.</summary>
public enum FormatRemedy
{
    /// <summary>Nothing to set: the file itself is wrong.</summary>
    None,
    /// <summary>Name the safetensors tensor to read (LoaderOptions.TensorName).</summary>
    NameTensor,
    /// <summary>Give, or correct, the element type and row width of raw binary files (LoaderOptions.RawDType, RawDim).</summary>
    RawLayout,
    /// <summary>Skip and count rows holding NaN or infinity (LoaderOptions.NonFinite = Skip).</summary>
    SkipNonFinite,
}

/// <summary>
/// The one error the activation loader raises for bad input (missing, truncated, lying or
/// inconsistent files, non-finite rows, files that shrink while in use). Its message always starts
/// with the file and then says where (offset, tensor, row), what was expected and what was found, so a
/// user can fix the file without a debugger. Callers catch this type alone; any other exception
/// escaping the loader is a bug.
/// </summary>
public sealed class ActivationFormatException : Exception
{
    /// <summary>An error in <paramref name="path"/>; the message is prefixed with it.</summary>
    public ActivationFormatException(string path, string message, Exception? inner = null)
        : this(path, message, FormatRemedy.None, inner)
    {
    }

    /// <summary>An error in <paramref name="path"/> that a loader setting gets past; the message names the setting.</summary>
    public ActivationFormatException(string path, string problem, FormatRemedy remedy, Exception? inner = null)
        : base(remedy == FormatRemedy.None ? $"{path}: {problem}" : $"{path}: {problem} ({ApiRemedy(remedy)}).", inner)
    {
        FilePath = path;
        Problem = problem;
        Remedy = remedy;
    }

    /// <summary>The file (or pattern) the problem is in.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file and without the remedy.</summary>
    public string Problem { get; }

    /// <summary>The loader setting that gets past the problem, if any.</summary>
    public FormatRemedy Remedy { get; }

    static string ApiRemedy(FormatRemedy remedy) => remedy switch
    {
        FormatRemedy.NameTensor => "set LoaderOptions.TensorName",
        FormatRemedy.RawLayout => "set LoaderOptions.RawDType and RawDim",
        FormatRemedy.SkipNonFinite => "LoaderOptions.NonFinite = Skip drops such rows",
        _ => "",
    };
}
