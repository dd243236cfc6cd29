using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Rng;
using GbaEngine.Synthetic;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// Resampling of dead latents for L1 and JumpReLU-L0 (Bricken et al. 2023, "Towards Monosemanticity",
/// as dictionary_learning's StandardTrainer implements it). Every R steps (<see cref="TrainerOptions.ResampleEvery"/>)
/// the latents dead by <see cref="DeadLatents"/> (default window R/2 steps, dictionary_learning's rule)
/// are re-initialised towards inputs the model reconstructs badly: n = min(#dead, B) tokens of the
/// current batch are drawn without replacement with probability ∝ ‖x_t − x̂_t‖ (the model after the
/// step), and the first n dead latents (ascending) each take one token v, as seen by the model
/// (normalised input), with v̂ = v/‖v‖:
///   decoder direction v̂ at unit norm; encoder 0.2·ρ·v̂, ρ the mean encoder-row norm of the live latents;
///   b = 0 (L1) or −θ_init (JumpReLU-L0: its starting threshold); their AdamW moments set to 0.
/// In the engine's forms (f = a·h, decoder row a·w): untied u = 0.2ρ·v̂, w = v̂, a = 1; tied L1, whose
/// rows are free, w = 0.2ρ·v̂ and a = 1/(0.2ρ); tied JumpReLU-L0, whose rows stay at unit norm, w = v̂
/// and a = 0.2ρ, so the latent's gain (encoder norm × decoder norm) starts at 0.2ρ as in the others.
/// Live latents, b_pre and every other moment are left alone. dictionary_learning also restarts the
/// learning-rate warm-up after each resampling; the engine keeps one schedule for the run. The
/// draw's generator is derived from the seed and the step, so a resumed run resamples identically.
/// Rare, so dense and single-threaded.
/// </summary>
internal sealed class DeadLatentResampling
{
    /// <summary>The live latents' mean encoder norm is scaled by this for a resampled latent (Bricken et al.).</summary>
    public const float EncoderScale = 0.2f;

    readonly SaeParameters _p, _m1, _m2;
    readonly ulong _seed;
    readonly bool _freeRows;
    readonly float _bias;
    readonly double[] _weight;
    readonly int[] _chosen;
    readonly bool[] _isDead;

    /// <param name="freeRows">Whether the decoder rows are left at any norm (L1) or put back on the sphere after each step.</param>
    /// <param name="bias">b of a resampled latent.</param>
    internal DeadLatentResampling(SaeParameters parameters, SaeParameters moment1, SaeParameters moment2, int batchCapacity, ulong seed,
        bool freeRows, float bias)
    {
        _p = parameters;
        _m1 = moment1;
        _m2 = moment2;
        _seed = seed;
        _freeRows = freeRows;
        _bias = bias;
        _weight = new double[batchCapacity];
        _chosen = new int[batchCapacity];
        _isDead = new bool[parameters.Neurons];
    }

    /// <summary>Latents re-initialised by the last <see cref="Resample"/>.</summary>
    public int LastCount { get; private set; }

    /// <summary>Latents re-initialised so far by this instance (a resumed run counts from the resume).</summary>
    public long Total { get; private set; }

    /// <summary>
    /// Re-initialises the first min(#dead, rows) of <paramref name="dead"/> (ascending) from tokens of
    /// <paramref name="x"/> [rows × Stride, normalised] drawn by their errors <paramref name="error"/>
    /// (x̂ − x of the same tokens); returns how many.
    /// </summary>
    public int Resample(AlignedArray x, AlignedArray error, int rows, ReadOnlySpan<int> dead, long step)
    {
        int n = Math.Min(dead.Length, rows), d = _p.Dim, stride = _p.Stride;
        LastCount = 0;
        if (n == 0) return 0;

        var err = error.Span;
        for (int t = 0; t < rows; t++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) { double e = err[t * stride + j]; s += e * e; }
            _weight[t] = Math.Sqrt(s);
        }
        var rng = Xoshiro256.Derive(_seed ^ (ulong)step, 0x2E5A);
        Draw(rows, n, ref rng);

        Array.Clear(_isDead);
        foreach (int m in dead) _isDead[m] = true;
        double normSum = 0;
        int alive = 0;
        for (int m = 0; m < _p.Neurons; m++)
        {
            if (_isDead[m]) continue;
            normSum += Norm(_p.EncoderRow(m)[..d]);
            alive++;
        }
        float rho = alive > 0 ? (float)(normSum / alive) : 1f;
        float gain = EncoderScale * rho;

        var xs = x.Span;
        for (int i = 0; i < n; i++)
        {
            int m = dead[i];
            var v = xs.Slice(_chosen[i] * stride, d);
            double norm = Norm(v);
            if (!(norm > 0)) continue;   // an all-zero token has no direction to give
            float inv = (float)(1.0 / norm);
            var w = _p.DecoderRow(m);
            w.Clear();
            if (_p.Tied)
            {
                float rowScale = _freeRows ? gain * inv : inv;
                for (int j = 0; j < d; j++) w[j] = v[j] * rowScale;
                _p.Scale[m] = _freeRows ? 1f / gain : gain;
            }
            else
            {
                var u = _p.EncoderRow(m);
                u.Clear();
                for (int j = 0; j < d; j++) { w[j] = v[j] * inv; u[j] = v[j] * (gain * inv); }
                _p.Scale[m] = 1f;
            }
            _p.Bias[m] = _bias;
            ClearMoments(_m1, m);
            ClearMoments(_m2, m);
            LastCount++;
        }
        Total += LastCount;
        return LastCount;
    }

    /// <summary>n distinct tokens, each drawn with probability ∝ its weight among those not yet drawn
    /// (torch.multinomial without replacement); uniformly when the remaining weights are all 0.</summary>
    void Draw(int rows, int n, ref Xoshiro256 rng)
    {
        for (int i = 0; i < n; i++)
        {
            double total = 0;
            int left = 0;
            for (int t = 0; t < rows; t++)
                if (_weight[t] >= 0) { total += _weight[t]; left++; }
            int pick = -1;
            if (total > 0)
            {
                double u = rng.NextDouble() * total;
                for (int t = 0; t < rows; t++)
                {
                    if (!(_weight[t] > 0)) continue;
                    pick = t;
                    u -= _weight[t];
                    if (u < 0) break;
                }
            }
            else
            {
                int r = rng.NextInt(left);
                for (int t = 0; t < rows && pick < 0; t++)
                    if (_weight[t] >= 0 && r-- == 0) pick = t;
            }
            _chosen[i] = pick;
            _weight[pick] = -1;   // drawn
        }
    }

    static void ClearMoments(SaeParameters moments, int m)
    {
        moments.DecoderRow(m).Clear();
        if (!moments.Tied) moments.EncoderRow(m).Clear();
        moments.Scale[m] = 0f;
        moments.Bias[m] = 0f;
    }

    static double Norm(ReadOnlySpan<float> v)
    {
        double s = 0;
        foreach (float f in v) s += (double)f * f;
        return Math.Sqrt(s);
    }
}
