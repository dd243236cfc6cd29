// `[mpirun -np P] dotnet Engine.Benchmarks.dll --sharded-step`: tokens per second of whole GBA training steps
// (SaeTrainer.TrainStep) of one SAE, in one process or sharded over the job's ranks, and the bytes each rank
// hands to the collectives per step. Every rank replays the same synthetic batches from memory (the paper's
// model, as StepFixture), warms up past the L0 transient, then times samples of steps; a sample's time is the
// slowest rank's. Rank 0 prints one JSON line; run it interleaved with the single process for an A/B.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GbaEngine.Collectives;
using GbaEngine.Distributed;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Training;

namespace GbaEngine.Benchmarks.Distributed;

using static BenchmarkSupport;

internal static class ShardedStep
{
    public const string Usage = """
        --sharded-step [--d 768] [--neurons 16384] [--batch 4096] [--threads T] [--warm 48] [--samples 5] [--steps 3]
          GBA training steps per second, as one process or under mpirun/srun sharded over the ranks; rank 0 prints
          a JSON line: tokens/s per sample and median, the warm L0, and the bytes each rank passes to the collectives
          per step against the model's size.
        """;

    public static int Run(string[] args)
    {
        int Int(string name, int fallback) => Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        int d = Int("--d", 768), m = Int("--neurons", 16384), batch = Int("--batch", 4096), threads = Int("--threads", Environment.ProcessorCount),
            warm = Int("--warm", 48), samples = Int("--samples", 5), steps = Int("--steps", 3);
        if (MpiLaunch.Detect() is { } launch)
        {
            using var mpi = MpiCommunicator.Initialize(launch);
            return mpi.RunOrAbort(() => Measure(mpi, d, m, batch, threads, warm, samples, steps, $"{mpi.LibraryVersion}, {launch.Launcher}"));
        }
        return Measure(SingleProcessCommunicator.Instance, d, m, batch, threads, warm, samples, steps, "one process");
    }

    static int Measure(Communicator comm, int d, int m, int batch, int threads, int warm, int samples, int steps, string how)
    {
        var spec = new SyntheticSpec(Features: 4 * d, Dim: d, Sparsity: 16);
        var tokens = new float[(long)batch * 8 * d];
        using (var gen = new SyntheticModel(spec, 7).OpenStream(0)) gen.NextBatch(tokens, batch * 8);
        var stream = new MemoryTokenStream(tokens, d);
        var options = new TrainerOptions { Neurons = m, BatchSize = batch, Threads = threads, EvalEvery = 0, Tokens = (long)batch * 1_000_000 };
        var counting = new CountingCommunicator(comm);
        using var trainer = new SaeTrainer(options, d, counting);
        trainer.Initialize(stream);
        double l0 = 0;
        for (int s = 0; s < warm; s++) l0 = trainer.TrainStep(stream).L0;

        counting.Reset();
        var perSample = new double[samples];
        var slowest = new double[1];
        var clock = new Stopwatch();
        for (int s = 0; s < samples; s++)
        {
            comm.Barrier();
            clock.Restart();
            for (int i = 0; i < steps; i++) l0 = trainer.TrainStep(stream).L0;
            slowest[0] = clock.Elapsed.TotalSeconds;
            comm.AllReduce(slowest, ReduceOperation.Max);
            perSample[s] = (double)steps * batch / slowest[0];
        }
        long measuredSteps = (long)samples * steps;
        if (comm.Rank == 0)
        {
            var p = trainer.Model.Parameters;
            long modelBytes = (long)m * p.Stride * sizeof(float) * (p.Tied ? 1 : 2);
            var line = new JsonObject
            {
                ["mode"] = "sharded-step", ["how"] = how, ["ranks"] = comm.Size, ["threads_per_rank"] = threads,
                ["d"] = d, ["neurons"] = m, ["batch"] = batch, ["tied"] = p.Tied, ["warm_steps"] = warm, ["l0"] = Math.Round(l0, 2),
                ["tokens_per_s"] = new JsonArray([.. perSample.Select(v => (JsonNode)Math.Round(v, 1))]),
                ["median_tokens_per_s"] = Math.Round(Median(perSample), 1),
                ["collective_bytes_per_step_per_rank"] = counting.Bytes / measuredSteps,
                ["collective_calls_per_step"] = Math.Round((double)counting.Calls / measuredSteps, 2),
                ["weight_bytes"] = modelBytes,
                ["data_parallel_gradient_bytes_per_step"] = (long)(p.Tied ? 1 : 2) * m * d * sizeof(float) + (long)m * 2 * sizeof(float) + d * sizeof(float),
                ["load_average"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown",
                ["utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            };
            Console.WriteLine(line.ToJsonString());
        }
        return 0;
    }
}
