namespace GbaEngine.Cli.Options;

/// <summary>A command-line mistake: reported as one line with exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
