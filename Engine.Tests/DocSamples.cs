using System.Runtime.CompilerServices;

namespace GbaEngine.Tests;

/// <summary>Keeps README code samples honest: each one must be code a test actually runs.</summary>
internal static class ReadmeSamples
{
    /// <summary>
    /// Every non-blank line of the first ```csharp block under the README heading starting with
    /// <paramref name="heading"/> appears, trimmed and in the same order, in the calling test file.
    /// </summary>
    /// <param name="skipComments">Leave out the block's // comment lines (notes for the reader only).</param>
    public static void AssertBlockIsInThisFile(string heading, bool skipComments, [CallerFilePath] string thisFile = "")
    {
        var readme = File.ReadAllLines(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "..", "README.md"));
        int at = Array.FindIndex(readme, l => l.StartsWith(heading, StringComparison.Ordinal));
        Assert.True(at >= 0, $"README has no '{heading}' section");
        int open = Array.FindIndex(readme, at, l => l.Trim() == "```csharp");
        int close = Array.FindIndex(readme, open + 1, l => l.Trim() == "```");
        var snippet = readme[(open + 1)..close].Select(l => l.Trim())
            .Where(l => l.Length > 0 && !(skipComments && l.StartsWith("//", StringComparison.Ordinal))).ToArray();
        Assert.NotEmpty(snippet);

        var source = File.ReadAllLines(thisFile).Select(l => l.Trim()).ToArray();
        int line = 0;
        foreach (var text in snippet)
        {
            int found = Array.IndexOf(source, text, line);
            Assert.True(found >= 0, $"README line not in {Path.GetFileName(thisFile)} (after line {line}): {text}");
            line = found + 1;
        }
    }
}
