using System.Diagnostics;
using GbaEngine.Cli;

namespace GbaEngine.Cli.Tests;

/// <summary>Runs `gba` in-process (exact streams) or as the built executable (real exit codes), and scratch directories.</summary>
static class CliHarness
{
    /// <summary>A tiny synthetic problem: trains in well under a second.</summary>
    public const string Tiny = "--features 32 --dim 16 --sparsity 2 --d-sae 64 --batch 64 --steps 40 --init-tokens 512 --buffer-tokens 640 --eval-tokens 512 --threads 1";

    public static string[] TinyArgs => Tiny.Split(' ');

    /// <summary>The tiny problem with some options' values replaced (or appended), e.g. Tweak("--dim", "8").</summary>
    public static string[] Tweak(params string[] pairs)
    {
        var args = TinyArgs.ToList();
        for (int i = 0; i < pairs.Length; i += 2)
        {
            int at = args.IndexOf(pairs[i]);
            if (at >= 0) args[at + 1] = pairs[i + 1];
            else args.AddRange([pairs[i], pairs[i + 1]]);
        }
        return args.ToArray();
    }

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    /// <summary>The built gba.dll under `dotnet`, with extra environment variables.</summary>
    public static (int Code, string Out, string Err) Exec(string[] args, IReadOnlyDictionary<string, string>? env = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(typeof(CliApp).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workingDirectory != null) psi.WorkingDirectory = workingDirectory;
        psi.Environment.Remove("SLURM_ARRAY_TASK_ID");
        if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    public static string LastLine(string text) => text.TrimEnd().Split('\n')[^1];

    /// <summary>The error output is exactly one line (the CLI's contract for failures).</summary>
    public static void AssertOneLine(string err) => Assert.Single(err.TrimEnd().Split('\n'));
}
