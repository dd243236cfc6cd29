// Why TopK's latents die on the s = 3/20 mixture, and whether AuxK can reach them: trains TopK as
// `gba train --method topk` does (same options, streams and evaluation set), with b_pre trained (the
// engine's default) or held at its initial value, the mean of the first tokens, by writing it back after
// every step. Prints per evaluation: FRR@0.8/0.9, dead fraction, FVU, |b_pre| against |data mean|, and
// the dead latents' (by the training window) mean and spread of z = w·(x − b_pre) with their largest y.
//
//   dotnet run -c Release --project tools/experiments/PreBiasProbe -- K SEED trained|frozen [AUXK|d (d: d/2; 0 off) [DEAD_TOKENS]]
using System.Globalization;
using GbaEngine.Metrics;
using GbaEngine.Synthetic;
using GbaEngine.Training;

int k = int.Parse(args[0], CultureInfo.InvariantCulture);
ulong seed = ulong.Parse(args[1], CultureInfo.InvariantCulture);
bool frozen = args[2] == "frozen";
int? auxK = args.Length > 3 && args[3] != "d" ? int.Parse(args[3], CultureInfo.InvariantCulture) : null;
long? deadTokens = args.Length > 4 ? long.Parse(args[4], CultureInfo.InvariantCulture) : null;

var spec = new SyntheticSpec(Features: 128, Dim: 42, Sparsity: 3, MixSparsity: 20, MixFraction: 0.5);
var model = new SyntheticModel(spec, seed);
var o = new TrainerOptions
{
    Method = TrainingMethod.TopK, K = k, Neurons = 512, Tokens = 5_000_000, Threads = 1, Seed = seed, EvalEvery = 0, AuxK = auxK, DeadTokens = deadTokens,
};
using var train = model.OpenStream(1);
using var evalStream = model.OpenStream(2);
var eval = EvaluationSet.FromStream(evalStream, 16_384, model.Features, model.Frequencies);
using var trainer = new SaeTrainer(o, spec.Dim);
trainer.Initialize(train);
var p = trainer.Model.Parameters;
var initialPre = p.PreBias.ToArray();
var probe = new float[512 * spec.Dim];
using (var s = model.OpenStream(7)) s.NextBatch(probe, 512);

Console.WriteLine($"TopK k={k} seed {seed}, b_pre {(frozen ? "frozen at the initial data mean" : "trained")}, AuxK {(o.UsesAuxK ? $"k_aux {o.ResolvedAuxK(spec.Dim)}, dead window {o.ResolvedDeadTokens:N0} tokens" : "off")}");
Console.WriteLine("tokens     FRR@0.8 FRR@0.9 dead   FVU     |b_pre| |mean|  dead(train) z mean  z std   max y");
for (long step = 1; step <= o.Steps; step++)
{
    trainer.TrainStep(train);
    if (frozen) initialPre.CopyTo(p.PreBias);
    if (step % 1000 != 0 && step != o.Steps) continue;
    var m = Evaluator.Evaluate(trainer.Model, eval, null, 1);
    float scale = trainer.Model.InputScale;
    var mean = new double[spec.Dim];
    for (int t = 0; t < 512; t++) for (int j = 0; j < spec.Dim; j++) mean[j] += probe[t * spec.Dim + j] * scale / 512;
    double preNorm = Math.Sqrt(p.PreBias[..spec.Dim].ToArray().Sum(v => (double)v * v)), meanNorm = Math.Sqrt(mean.Sum(v => v * v));
    double zMean = 0, zStd = 0, maxY = double.NegativeInfinity;
    trainer.DeadLatents?.Refresh();
    int[] dead = trainer.DeadLatents?.Dead.ToArray() ?? [];
    foreach (int n in dead)
    {
        var w = p.EncoderRow(n);
        var z = new double[512];
        for (int t = 0; t < 512; t++)
        {
            double s = 0;
            for (int j = 0; j < spec.Dim; j++) s += w[j] * (probe[t * spec.Dim + j] * scale - p.PreBias[j]);
            z[t] = s;
            maxY = Math.Max(maxY, s + p.Bias[n]);
        }
        double mu = z.Average();
        zMean += mu;
        zStd += Math.Sqrt(z.Select(v => (v - mu) * (v - mu)).Average());
    }
    int nd = Math.Max(1, dead.Length);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{step * o.BatchSize,9:N0}  {m.Frr08,7:F3} {m.Frr09,7:F3} {m.DeadFraction,6:F3} {m.Fvu,7:F4} {preNorm,7:F3} {meanNorm,6:F3}  {dead.Length,11} {zMean / nd,7:F3} {zStd / nd,6:F3} {(dead.Length > 0 ? maxY : double.NaN),7:F3}"));
}
