using System.Runtime.CompilerServices;

namespace GbaEngine.Tests;

/// <summary>Keeps the code samples of README.md and docs/*.md honest: each one must be code a test actually runs.</summary>
internal static class DocSamples
{
    /// <summary>
    /// Every non-blank line of the <paramref name="block"/>-th ```csharp block under the heading of
    /// <paramref name="document"/> (a path from the repository root) starting with <paramref name="heading"/>
    /// appears, trimmed and in the same order, in the calling test file.
    /// </summary>
    /// <param name="skipComments">Leave out the block's // comment lines (notes for the reader only).</param>
    public static void AssertBlockIsInThisFile(string document, string heading, bool skipComments, int block = 0,
        [CallerFilePath] string thisFile = "")
    {
        string path = Path.Combine(RepositoryRoot(thisFile), document);
        Assert.True(File.Exists(path), $"no {document}");
        var doc = File.ReadAllLines(path);
        int at = Array.FindIndex(doc, l => l.StartsWith(heading, StringComparison.Ordinal));
        Assert.True(at >= 0, $"{document} has no '{heading}' section");
        int end = Array.FindIndex(doc, at + 1, l => l.StartsWith("## ", StringComparison.Ordinal));
        if (end < 0) end = doc.Length;
        int open = at;
        for (int i = 0; i <= block; i++)
        {
            open = Array.FindIndex(doc, open + 1, end - open - 1, l => l.Trim() == "```csharp");
            Assert.True(open >= 0, $"{document}, '{heading}': no csharp block {block}");
        }
        int close = Array.FindIndex(doc, open + 1, l => l.Trim() == "```");
        var snippet = doc[(open + 1)..close].Select(l => l.Trim())
            .Where(l => l.Length > 0 && !(skipComments && l.StartsWith("//", StringComparison.Ordinal))).ToArray();
        Assert.NotEmpty(snippet);

        var source = File.ReadAllLines(thisFile).Select(l => l.Trim()).ToArray();
        int line = 0;
        foreach (var text in snippet)
        {
            int found = Array.IndexOf(source, text, line);
            Assert.True(found >= 0, $"{document} line not in {Path.GetFileName(thisFile)} (after line {line}): {text}");
            line = found + 1;
        }
    }

    static string RepositoryRoot(string from)
    {
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(from)!); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GbaEngine.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no GbaEngine.sln above {from}");
    }
}
