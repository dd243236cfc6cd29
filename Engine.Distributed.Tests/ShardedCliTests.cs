using System.Text.Json.Nodes;
using Xunit.Abstractions;
using GbaEngine.Cli;

namespace GbaEngine.Distributed.Tests;

/// <summary>
/// `gba train` under Open MPI's mpirun: 3 ranks sharing M = 100 neurons (34, 33, 33) say so, end where the single
/// process ends, write one checkpoint store per rank plus checkpoints/ranks.json, and a run resumed on the same
/// number of ranks exports the same bytes as the straight run; another number of ranks, a method that is not
/// sharded or TopK with AuxK, is refused with exit code 2 and one message.
/// </summary>
public class ShardedCliTests(ITestOutputHelper log)
{
    static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);
    static readonly string[] Common = ["train", "--dim", "32", "--features", "64", "--sparsity", "3", "--d-sae", "100", "--batch", "128",
        "--threads", "1", "--seed", "4", "--eval-tokens", "1024"];

    [MpiFact(MpiKind.OpenMpi)]
    public void TrainRunsShardedResumesAndRefusesOtherRankCounts()
    {
        var dir = Directory.CreateTempSubdirectory("gba-shard-cli-");
        try
        {
            string straight = Path.Combine(dir.FullName, "straight"), single = Path.Combine(dir.FullName, "single"), half = Path.Combine(dir.FullName, "half");
            var job = Gba(3, [.. Common, "--steps", "60", "--out", straight]);
            Assert.True(job.ExitCode == 0, job.ToString());
            Assert.Contains("gba train: running on 3 ranks, 34 or 33 of M = 100 neurons each", job.Output);
            Assert.Single(job.Output.Split('\n'), l => l.StartsWith("method GBA", StringComparison.Ordinal));   // rank 0 alone prints
            Assert.True(File.Exists(Path.Combine(straight, "checkpoints", "ranks.json")));
            for (int r = 0; r < 3; r++) Assert.True(Directory.Exists(Path.Combine(straight, "checkpoints", $"rank-{r:D4}", "step-000000060")), $"rank {r}'s checkpoint");
            Assert.False(Directory.Exists(Path.Combine(straight, "checkpoints", "step-000000060")));

            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(CliApp.Ok, CliApp.Run([.. Common, "--steps", "60", "--out", single], stdout, stderr));
            var (sharded, alone) = (Summary(straight), Summary(single));
            log.WriteLine($"3 ranks: FVU {sharded["fvu"]}, L0 {sharded["l0"]}; one process: FVU {alone["fvu"]}, L0 {alone["l0"]}");
            Assert.Equal(3, (int)sharded["ranks"]!);
            Assert.Equal((double)alone["fvu"]!, (double)sharded["fvu"]!, 1e-4);
            Assert.Equal((double)alone["l0"]!, (double)sharded["l0"]!, 1e-3);

            job = Gba(3, [.. Common, "--steps", "30", "--out", half]);
            Assert.True(job.ExitCode == 0, job.ToString());
            job = Gba(2, ["train", "--resume", half, "--steps", "60"]);
            Assert.True(job.ExitCode == 2, job.ToString());
            Assert.Contains("the run was trained on 3 MPI ranks and its checkpoints hold 3 shards; resume it on 3 ranks (this job has 2)", job.Output);
            job = Gba(3, ["train", "--resume", half, "--steps", "60"]);
            Assert.True(job.ExitCode == 0, job.ToString());
            Assert.Contains("resuming", job.Output);
            Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "sae", "sae_weights.safetensors")), File.ReadAllBytes(Path.Combine(half, "sae", "sae_weights.safetensors")));

            job = Gba(2, [.. Common, "--method", "batchtopk", "--k", "3", "--steps", "5"]);
            Assert.True(job.ExitCode == 2, job.ToString());
            Assert.Contains("--method batchtopk cannot yet train sharded over MPI ranks: only gba, ba and topk (with --aux-k 0) can", job.Output);
            job = Gba(2, [.. Common, "--method", "topk", "--k", "3", "--steps", "5"]);
            Assert.True(job.ExitCode == 2, job.ToString());
            Assert.Contains("--method topk with AuxK cannot yet train sharded over MPI ranks: give --aux-k 0", job.Output);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    MpiJob Gba(int ranks, string[] args)
    {
        var job = MpiRunner.LaunchGba(MpiKind.OpenMpi, ranks, args, JobTimeout);
        log.WriteLine($"mpirun -np {ranks} gba {string.Join(' ', args.Skip(1))}: exit {job.ExitCode} in {job.Seconds:F1} s");
        return job;
    }

    static JsonObject Summary(string runDir) => (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "summary.json")))!;
}
