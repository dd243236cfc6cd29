namespace GbaEngine.Cli.Options;

/// <summary>A command-line mistake: reported as one line with exit code 2.</summary>
public class UsageException(string message) : Exception(message);

/// <summary>
/// A well-formed option whose value the run cannot take (--d-sae 0, --lr -1): bad usage (exit 2) found
/// while setting a run up, so a run directory records it in error.txt (a sweep's summary shows the point
/// as failed, with the reason).
/// </summary>
public sealed class SettingException(string message) : UsageException(message);
