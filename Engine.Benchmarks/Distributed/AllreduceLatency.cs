// `mpirun -np P dotnet Engine.Benchmarks.dll --allreduce`: the time of one in-place float allreduce
// (MpiCommunicator.AllReduce, sum) per message size, from 4 bytes to the payloads of a training
// step: b_pre's gradient (d floats), the partial reconstructions of feature parallelism (B x d) and,
// for comparison, the gradient allreduce of data parallelism (2 M d). Each sample times a run of
// calls between barriers; a sample's time is the slowest rank's mean per call. Rank 0 prints
// markdown: median and best per call, and bandwidths (algorithm: bytes / time; bus: x 2(P-1)/P, the
// bytes a rank sends and receives in a ring allreduce).
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using GbaEngine.Distributed;
using GbaEngine.Collectives;

namespace GbaEngine.Benchmarks.Distributed;

using static BenchmarkSupport;

internal static class AllreduceLatency
{
    public const string Usage = """
        --allreduce [--samples 15] [--target-ms 20] [--d 768] [--neurons 16384] [--batch 4096] [--max-mb 512]
          Run under mpirun/srun with 2 or more ranks. Times in-place float allreduces from 4 bytes up to the
          step payloads at the given shape (b_pre gradient d, reconstructions B x d, data-parallel gradients 2 M d);
          rank 0 prints a markdown table.
        """;

    public static int Run(string[] args)
    {
        int Int(string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int samples = Int("--samples", 15), targetMs = Int("--target-ms", 20), d = Int("--d", 768), m = Int("--neurons", 16384),
            batch = Int("--batch", 4096), maxMb = Int("--max-mb", 512);
        if (MpiLaunch.Detect() is not { } launch)
        {
            Console.Error.WriteLine("--allreduce needs two or more ranks: run it as `mpirun -np 2 dotnet Engine.Benchmarks.dll --allreduce`.");
            return 2;
        }
        using var comm = MpiCommunicator.Initialize(launch);
        return comm.RunOrAbort(() => Measure(comm, samples, targetMs, d, m, batch, (long)maxMb << 20, args));
    }

    static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    static int Measure(MpiCommunicator comm, int samples, int targetMs, int d, int m, int batch, long maxBytes, string[] args)
    {
        var sizes = new List<(long Floats, string Label)>();
        for (long n = 1; n <= 1 << 22; n *= 16) sizes.Add((n, ""));
        sizes.Add((d, $"b_pre gradient (d = {d})"));
        sizes.Add(((long)batch * d, $"reconstructions B x d ({batch} x {d})"));
        sizes.Add((2L * m * d, $"data parallelism: gradients 2 M d ({m} x {d})"));
        sizes = [.. sizes.Where(s => s.Floats * sizeof(float) <= maxBytes).OrderBy(s => s.Floats)];
        if (sizes.Count == 0) throw new ArgumentException("--max-mb must be at least 1.");

        var buffer = new float[sizes.Max(s => s.Floats)];
        buffer.AsSpan().Fill(1f / comm.Size);
        int p = comm.Size;
        if (comm.Rank == 0)
        {
            Console.WriteLine($"## In-place float allreduce, {p} ranks ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
            Console.WriteLine();
            Console.WriteLine($"- {comm.LibraryVersion} ({comm.LibraryPath}), launched by {comm.Launch.Launcher}; CPU: {CpuModel()} ({Environment.ProcessorCount} logical cores visible to rank 0); .NET {RuntimeInformation.FrameworkDescription}");
            // Only the transport and collective choices (mpirun adds its own OMPI_MCA_ variables for bookkeeping).
            var mca = Environment.GetEnvironmentVariables().Keys.Cast<string>()
                .Where(k => k.StartsWith("OMPI_MCA_btl", StringComparison.Ordinal) || k.StartsWith("OMPI_MCA_coll", StringComparison.Ordinal)
                            || k.StartsWith("OMPI_MCA_pml", StringComparison.Ordinal))
                .Order().Select(k => $"{k[9..]}={Environment.GetEnvironmentVariable(k)}").ToArray();
            Console.WriteLine($"- Open MPI transport and collective parameters from the environment: {(mca.Length == 0 ? "none (defaults)" : string.Join(", ", mca))}; {samples} samples per size, each a run of calls lasting about {targetMs} ms between barriers; a sample is the slowest rank's mean per call");
            Console.WriteLine($"- Load average at start: {LoadAverage()} (the machine is shared: quote medians, and only from a quiet run)");
            Console.WriteLine($"- Command: `mpirun -np {p} dotnet Engine.Benchmarks.dll --allreduce {string.Join(' ', args)}`");
            Console.WriteLine();
            Console.WriteLine("| bytes | payload | median µs | best µs | algorithm GB/s | bus GB/s |");
            Console.WriteLine("|---:|---|---:|---:|---:|---:|");
        }

        var perCall = new double[samples];
        var slowest = new double[1];
        var calls = new int[1];
        foreach (var (floats, label) in sizes)
        {
            var span = buffer.AsSpan(0, (int)floats);
            comm.AllReduce(span, ReduceOperation.Sum);       // warm: connections, buffers
            // Calls per sample, agreed on by every rank: from runs doubling in length until one lasts a
            // tenth of the target, so that one descheduled call cannot set the count.
            var clock = new Stopwatch();
            for (int run = 1; ; run *= 2)
            {
                clock.Restart();
                for (int i = 0; i < run; i++) comm.AllReduce(span, ReduceOperation.Sum);
                slowest[0] = clock.Elapsed.TotalSeconds;
                comm.AllReduce(slowest, ReduceOperation.Max);
                if (slowest[0] >= targetMs * 1e-4 || run >= 1 << 16)
                {
                    calls[0] = (int)Math.Clamp(targetMs * 1e-3 * run / slowest[0], 1, 1_000_000);
                    break;
                }
            }
            comm.Broadcast<int>(calls, 0);
            for (int s = 0; s < samples; s++)
            {
                comm.Barrier();
                clock.Restart();
                for (int i = 0; i < calls[0]; i++) comm.AllReduce(span, ReduceOperation.Sum);
                slowest[0] = clock.Elapsed.TotalSeconds / calls[0];
                comm.AllReduce(slowest, ReduceOperation.Max);
                perCall[s] = slowest[0];
            }
            if (comm.Rank == 0)
            {
                double median = Median(perCall), best = perCall.Min(), bytes = floats * sizeof(float);
                double algorithm = bytes / median / 1e9;
                Console.WriteLine($"| {bytes:N0} | {(label.Length > 0 ? label : $"{floats:N0} floats")} | {F(median * 1e6)} | {F(best * 1e6)} | {F(algorithm, "F2")} | {F(algorithm * 2 * (p - 1) / p, "F2")} |");
            }
        }
        return 0;
    }
}
