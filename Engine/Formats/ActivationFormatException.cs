namespace GbaEngine.Formats;

/// <summary>
/// The one error the activation loader raises for bad input (missing, truncated, lying or
/// inconsistent files, non-finite rows). Its message always starts with the file and then says
/// where (offset, tensor, row), what was expected and what was found, so a user can fix the file
/// without a debugger. Callers catch this type alone; any other exception escaping the loader is a bug.
/// </summary>
public sealed class ActivationFormatException : Exception
{
    /// <summary>An error in <paramref name="path"/>; the message is prefixed with it.</summary>
    public ActivationFormatException(string path, string message, Exception? inner = null)
        : base($"{path}: {message}", inner)
    {
        FilePath = path;
    }

    /// <summary>The file (or pattern) the problem is in.</summary>
    public string FilePath { get; }
}
