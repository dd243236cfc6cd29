using System.Diagnostics;

namespace GbaEngine.Distributed.Tests;

/// <summary>Which MPI's launcher a test runs the check program under.</summary>
public enum MpiKind
{
    OpenMpi,
    Mpich,
}

/// <summary>What a launched job did: exit code, its merged output, and when it printed a line containing
/// a marker (seconds since launch), to time how long the job took to end after a planted failure.</summary>
public sealed record MpiJob(int ExitCode, string Output, double Seconds, double? MarkerSeconds)
{
    public override string ToString() => $"exit {ExitCode} after {Seconds:F1} s; output:\n{Output}";
}

/// <summary>
/// Finds Debian's MPI launchers (<c>mpirun.openmpi</c>/<c>mpirun</c> and <c>mpiexec.mpich</c>, which install
/// side by side) and runs this test assembly's <see cref="CheckProgram"/> under them with a hard timeout:
/// a job that hangs is killed with its whole process tree and reported, never waited on forever.
/// </summary>
public static class MpiRunner
{
    static readonly Lazy<string?> OpenMpi = new(() =>
        Which("mpirun.openmpi") ?? (Which("mpirun") is { } mpirun && Run(mpirun, "--version").Contains("Open MPI") ? mpirun : null));
    static readonly Lazy<string?> Mpich = new(() => Which("mpiexec.mpich"));

    /// <summary>The launcher of <paramref name="kind"/>, or null when it is not installed.</summary>
    public static string? Launcher(MpiKind kind) => kind == MpiKind.OpenMpi ? OpenMpi.Value : Mpich.Value;

    /// <summary>Why a test of <paramref name="kind"/> cannot run here, or null when it can.</summary>
    public static string? Missing(MpiKind kind) => Launcher(kind) != null ? null
        : kind == MpiKind.OpenMpi
            ? "Open MPI's mpirun is not on PATH: install Debian's openmpi-bin libopenmpi-dev (.ci/run does) to run the MPI tests"
            : "MPICH's mpiexec.mpich is not on PATH: install Debian's mpich (.ci/run does) to run the MPICH tests";

    /// <summary>Runs <c>launcher -np ranks dotnet ThisAssembly.dll args</c>; kills the job after <paramref name="timeout"/>.</summary>
    public static MpiJob Launch(MpiKind kind, int ranks, string[] args, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null,
        string? marker = null) => Launch(kind, ranks, typeof(CheckProgram).Assembly.Location, args, timeout, environment, marker);

    /// <summary>The `gba` command line (the Gba.Cli assembly beside this one) under the launcher.</summary>
    public static MpiJob LaunchGba(MpiKind kind, int ranks, string[] args, TimeSpan timeout) =>
        Launch(kind, ranks, Path.Combine(AppContext.BaseDirectory, "gba.dll"), args, timeout, null, null);

    static MpiJob Launch(MpiKind kind, int ranks, string program, string[] args, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment,
        string? marker)
    {
        string launcher = Launcher(kind) ?? throw new InvalidOperationException(Missing(kind));
        var psi = new ProcessStartInfo(launcher)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        if (kind == MpiKind.OpenMpi) psi.ArgumentList.Add("--oversubscribe");   // 3 ranks on 2 cores; Hydra oversubscribes by default
        psi.ArgumentList.Add("-np");
        psi.ArgumentList.Add(ranks.ToString());
        psi.ArgumentList.Add(DotnetHost());
        psi.ArgumentList.Add(program);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // CI runs as root, which Open MPI refuses unless told; TERM=dumb keeps the .NET console from
        // writing terminal modes into mpirun's pseudo-terminals.
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        psi.Environment["TERM"] = "dumb";
        psi.Environment.Remove(MpiLaunch.LibraryVariable);
        if (environment != null) foreach (var (k, v) in environment) psi.Environment[k] = v;

        var output = new System.Text.StringBuilder();
        var clock = Stopwatch.StartNew();
        double? markerSeconds = null;
        using var process = new Process { StartInfo = psi };
        void OnLine(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null) return;
            lock (output)
            {
                output.AppendLine(e.Data);
                if (marker != null && markerSeconds is null && e.Data.Contains(marker)) markerSeconds = clock.Elapsed.TotalSeconds;
            }
        }
        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            lock (output)
                throw new TimeoutException($"{launcher} -np {ranks} {string.Join(' ', args)} did not end within {timeout.TotalSeconds} s (killed); output:\n{output}");
        }
        process.WaitForExit();      // drains the redirected streams
        lock (output) return new MpiJob(process.ExitCode, output.ToString(), clock.Elapsed.TotalSeconds, markerSeconds);
    }

    /// <summary>Runs this assembly's check program as a plain process (no launcher, no MPI variables).</summary>
    public static MpiJob RunPlain(params string[] args)
    {
        var psi = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(typeof(CheckProgram).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var name in new[] { "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "SLURM_STEP_NUM_TASKS", MpiLaunch.LibraryVariable })
            psi.Environment.Remove(name);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new MpiJob(process.ExitCode, stdout + stderr.Result, clock.Elapsed.TotalSeconds, null);
    }

    /// <summary>The full path of a shared library the dynamic loader knows (from <c>ldconfig -p</c>), or null.</summary>
    public static string? SharedLibrary(string name) =>
        Run("/sbin/ldconfig", "-p").Split('\n')
            .Where(l => l.TrimStart().StartsWith(name + " ", StringComparison.Ordinal) && l.Contains("=> ", StringComparison.Ordinal))
            .Select(l => l[(l.LastIndexOf("=> ", StringComparison.Ordinal) + 3)..].Trim())
            .FirstOrDefault(File.Exists);

    // `dotnet test` tells its children where the host is; a plain `dotnet` from PATH otherwise.
    static string DotnetHost() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    static string Run(string file, string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var err = p.StandardError.ReadToEndAsync();
            string text = p.StandardOutput.ReadToEnd() + err.Result;
            p.WaitForExit();
            return text;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }
}
