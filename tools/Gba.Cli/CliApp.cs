namespace GbaEngine.Cli;

/// <summary>Entry point shared by the executable and the in-process CLI tests.</summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        stderr.WriteLine("gba: not yet implemented");
        return 2;
    }
}
