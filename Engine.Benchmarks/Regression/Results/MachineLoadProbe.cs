using System.Globalization;

namespace GbaEngine.Benchmarks.Regression.Results;

/// <summary>How busy the machine is, from Linux's /proc (empty or null elsewhere).</summary>
internal static class MachineLoadProbe
{
    /// <summary>The 1, 5 and 15-minute load averages.</summary>
    public static double[] LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return [];
        }
    }

    /// <summary>Percentage of the last 60 s in which some runnable task waited for a CPU (PSI "some avg60").</summary>
    public static double? CpuPressure()
    {
        try
        {
            var line = File.ReadLines("/proc/pressure/cpu").First(l => l.StartsWith("some", StringComparison.Ordinal));
            var field = line.Split(' ').First(f => f.StartsWith("avg60=", StringComparison.Ordinal));
            return double.Parse(field["avg60=".Length..], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }
}
