// What identifies the machine and build a run was measured on. Two runs are comparable only when
// the machine part matches (CPU, cores, ISA, runtime); the commit is what a comparison is about.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace GbaEngine.Benchmarks.Regression.Results;

/// <summary>CPU model, cores, ISA flags, runtime and commit of one run.</summary>
internal sealed record MachineFingerprint
{
    public required string CpuModel { get; init; }
    /// <summary>"family/model/stepping" from /proc/cpuinfo ("" elsewhere): tells CPU generations apart when the model name does not.</summary>
    public required string CpuId { get; init; }
    public required int LogicalCores { get; init; }
    /// <summary>SIMD-relevant CPU flags (sorted): the kernels a machine can run follow from these.</summary>
    public required IReadOnlyList<string> IsaFlags { get; init; }
    public required string Os { get; init; }
    public required string Dotnet { get; init; }
    /// <summary>Commit of the measured build (GBA_COMMIT, else git), "+dirty" when tracked files were modified.</summary>
    public required string Commit { get; init; }

    /// <summary>What differs between two fingerprints, the commit aside (an empty list: same machine and runtime).</summary>
    public IReadOnlyList<string> MachineDifferences(MachineFingerprint other)
    {
        var d = new List<string>();
        void Check(string what, string a, string b)
        {
            if (a != b) d.Add($"{what}: {a} vs {b}");
        }
        Check("CPU", CpuModel, other.CpuModel);
        Check("CPU id", CpuId, other.CpuId);
        Check("logical cores", LogicalCores.ToString(System.Globalization.CultureInfo.InvariantCulture), other.LogicalCores.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var onlyFirst = IsaFlags.Except(other.IsaFlags).ToList();
        var onlySecond = other.IsaFlags.Except(IsaFlags).ToList();
        if (onlyFirst.Count + onlySecond.Count > 0)
            d.Add($"ISA flags: only the first has [{string.Join(' ', onlyFirst)}], only the second has [{string.Join(' ', onlySecond)}]");
        Check("OS", Os, other.Os);
        Check(".NET", Dotnet, other.Dotnet);
        return d;
    }

    static readonly string[] SimdFlagPrefixes = ["sse4", "avx", "fma", "f16c", "amx", "bmi2"];

    /// <summary>The fingerprint of this process.</summary>
    public static MachineFingerprint Capture()
    {
        var info = CpuInfo();
        string Field(string key) => info.TryGetValue(key, out var v) ? v : "";
        var flags = Field("flags").Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Where(f => SimdFlagPrefixes.Any(p => f.StartsWith(p, StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal).ToList();
        if (flags.Count == 0)
        {
            // Not Linux: what the runtime can use is the next best thing.
            if (Vector256.IsHardwareAccelerated) flags.Add("vector256");
            if (Vector512.IsHardwareAccelerated) flags.Add("vector512");
        }
        string id = info.ContainsKey("cpu family") ? $"{Field("cpu family")}/{Field("model")}/{Field("stepping")}" : "";
        return new MachineFingerprint
        {
            CpuModel = Field("model name") is { Length: > 0 } model ? model : RuntimeInformation.ProcessArchitecture.ToString(),
            CpuId = id,
            LogicalCores = Environment.ProcessorCount,
            IsaFlags = flags,
            Os = RuntimeInformation.OSDescription,
            Dotnet = RuntimeInformation.FrameworkDescription,
            Commit = CurrentCommit(),
        };
    }

    /// <summary>The first processor's fields of /proc/cpuinfo (empty elsewhere).</summary>
    static Dictionary<string, string> CpuInfo()
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.Length == 0) break;
                int colon = line.IndexOf(':');
                if (colon > 0) fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return fields;
    }

    static string CurrentCommit()
    {
        if (Environment.GetEnvironmentVariable("GBA_COMMIT") is { Length: > 0 } fromEnvironment) return fromEnvironment;
        // The build being measured is the repository this assembly was built from.
        var dir = AppContext.BaseDirectory;
        var head = Git(dir, "rev-parse", "HEAD");
        if (head is null) return "unknown";
        var dirty = Git(dir, "status", "--porcelain", "--untracked-files=no");
        return dirty is { Length: > 0 } ? head + "+dirty" : head;
    }

    static string? Git(string directory, params string[] args)
    {
        try
        {
            var psi = new ProcessStartInfo("git") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi);
            if (p is null) return null;
            var output = p.StandardOutput.ReadToEnd().Trim();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 ? output : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;   // no git on this machine
        }
    }
}
