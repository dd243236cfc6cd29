namespace GbaEngine.Threading;

/// <summary>
/// Runs work over a fixed split of [0, count) into <c>parts</c> contiguous chunks, one task per
/// chunk. The split depends only on (count, parts, granule), never on timing, so per-chunk partial
/// results reduced in chunk order make the whole computation deterministic for a given thread count.
/// </summary>
internal static class FixedPartition
{
    /// <summary>The [start, end) range of chunk <paramref name="part"/>; chunk boundaries are multiples of granule.</summary>
    public static (int Start, int End) Range(int count, int parts, int part, int granule = 1)
    {
        var units = (count + granule - 1) / granule;
        var baseUnits = units / parts;
        var extra = units % parts;
        var startUnit = part * baseUnits + Math.Min(part, extra);
        var endUnit = startUnit + baseUnits + (part < extra ? 1 : 0);
        return (Math.Min(count, startUnit * granule), Math.Min(count, endUnit * granule));
    }

    /// <summary>Invokes body(part, start, end) for each chunk, in parallel when parts &gt; 1.</summary>
    public static void Run(int count, int parts, Action<int, int, int> body, int granule = 1)
    {
        if (parts <= 1 || count <= granule)
        {
            body(0, 0, count);
            return;
        }
        Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts }, part =>
        {
            var (s, e) = Range(count, parts, part, granule);
            if (s < e) body(part, s, e);
        });
    }
}
