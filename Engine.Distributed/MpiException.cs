namespace GbaEngine.Distributed;

/// <summary>
/// An MPI call failed (the binding sets MPI_ERRORS_RETURN, so errors come back as codes rather than
/// ending the process), or no usable MPI library was found. After a failed collective the job's state
/// is undefined: report the error and abort the job (<see cref="MpiCommunicator.RunOrAbort"/>).
/// </summary>
public sealed class MpiException : Exception
{
    /// <summary>A failure that is not an MPI error code (loading, detection, a size mismatch).</summary>
    public MpiException(string message, Exception? inner = null) : base(message, inner)
    {
    }

    /// <summary>MPI function <paramref name="function"/> returned <paramref name="errorCode"/>.</summary>
    public MpiException(string function, int errorCode, string errorText)
        : base($"{function} failed with MPI error {errorCode}: {errorText}")
    {
        Function = function;
        ErrorCode = errorCode;
    }

    /// <summary>The MPI function that failed, or null.</summary>
    public string? Function { get; }

    /// <summary>The MPI error code (0 when the failure was not an MPI call's).</summary>
    public int ErrorCode { get; }
}
