using GbaEngine.Streams;
using GbaEngine.Rng;

namespace GbaEngine.Synthetic;

/// <summary>
/// Draws tokens x = Σ_i c_i v_i (+ noise) from a <see cref="SyntheticModel"/>, one token at a time
/// from a single generator, so the stream is a pure function of (seed, position) and its state is
/// just the generator state and position (what a checkpoint stores).
/// Uniform profile: s distinct features by Floyd's sampling (with a mixture, a coin first picks s or
/// the mixture's sparsity). Power law: every feature is an
/// independent Bernoulli(f_i), drawn by geometric skipping within blocks of doubling size whose
/// rate is the block's largest f, thinned to f_i: cost O(s·log n) per token instead of O(n).
/// </summary>
public sealed class SyntheticStream : ITokenStream
{
    readonly SyntheticModel _model;
    Xoshiro256 _rng;
    readonly int[] _active;
    readonly (int Start, int End, double Rate, double LogOneMinus)[] _blocks;

    internal SyntheticStream(SyntheticModel model, Xoshiro256 rng)
    {
        _model = model;
        _rng = rng;
        _active = new int[model.Spec.Features];
        _blocks = BuildBlocks(model.Frequencies);
    }

    /// <summary>Row width d.</summary>
    public int Dim => _model.Spec.Dim;
    /// <summary>Tokens drawn so far.</summary>
    public long Position { get; private set; }
    /// <summary>The model the tokens come from.</summary>
    public SyntheticModel Model => _model;

    /// <summary>The generator's settings and seed, for logs and checkpoints.</summary>
    public string Describe()
    {
        var s = _model.Spec;
        return $"synthetic n={s.Features} d={s.Dim} s={s.Sparsity}" + (s.MixSparsity > 0 ? $" ({s.MixFraction * 100:0.#}% of tokens s={s.MixSparsity})" : "") + $" {s.Profile}" + (s.Profile == FrequencyProfile.PowerLaw ? $"(α={s.Exponent})" : "")
            + $" magnitudes U({s.MagnitudeMin},{s.MagnitudeMax}) noise={s.Noise} seed={_model.Seed}";
    }

    /// <summary>Generator state and position, for exact resume.</summary>
    public ((ulong, ulong, ulong, ulong) Rng, long Position) State
    {
        get => (_rng.State, Position);
        set { _rng.State = value.Rng; Position = value.Position; }
    }

    /// <summary>The generator state and position, for a checkpoint.</summary>
    public StreamState CaptureState() => new() { Kind = StreamKind.Synthetic, Position = Position, Description = Describe(), Rng = _rng.State };

    /// <summary>Moves this freshly opened stream of the same model to a state a checkpoint recorded.</summary>
    public void Restore(StreamState state)
    {
        if (state.Kind != StreamKind.Synthetic) throw new ArgumentException($"The checkpoint recorded a {state.Kind} stream, not a synthetic one.", nameof(state));
        State = (state.Rng, state.Position);
    }

    /// <summary>Draws the next rows.</summary>
    public void NextBatch(Span<float> destination, int rows)
    {
        int d = Dim;
        if (destination.Length < (long)rows * d) throw new ArgumentException("Destination too small for the batch.");
        for (int t = 0; t < rows; t++) NextToken(destination.Slice(t * d, d));
    }

    /// <summary>Writes one token; returns the number of active features (their indices in ActiveFeatures).</summary>
    public int NextToken(Span<float> x)
    {
        var spec = _model.Spec;
        x.Clear();
        // The mixture's coin is drawn only when there is a mixture, so plain streams are unchanged.
        int s = spec.MixSparsity > 0 && _rng.NextDouble() < spec.MixFraction ? spec.MixSparsity : spec.Sparsity;
        int count = spec.Profile == FrequencyProfile.Uniform ? SampleUniform(s, spec.Features) : SamplePowerLaw();
        double span = spec.MagnitudeMax - spec.MagnitudeMin;
        for (int k = 0; k < count; k++)
        {
            float c = (float)(spec.MagnitudeMin + span * _rng.NextDouble());
            var v = _model.Feature(_active[k]);
            for (int j = 0; j < x.Length; j++) x[j] += c * v[j];
        }
        if (spec.Noise > 0)
            for (int j = 0; j < x.Length; j++) x[j] += (float)(spec.Noise * _rng.NextGaussian());
        Position++;
        LastActiveCount = count;
        return count;
    }

    /// <summary>Indices of the features in the last token drawn.</summary>
    public ReadOnlySpan<int> ActiveFeatures => _active.AsSpan(0, LastActiveCount);
    int LastActiveCount { get; set; }

    int SampleUniform(int s, int n)
    {
        // Floyd: for j = n-s .. n-1 pick t in [0, j]; take t unless taken, else j. s is small.
        int count = 0;
        for (int j = n - s; j < n; j++)
        {
            int t = _rng.NextInt(j + 1);
            bool taken = false;
            for (int k = 0; k < count; k++) if (_active[k] == t) { taken = true; break; }
            _active[count++] = taken ? j : t;
        }
        return count;
    }

    int SamplePowerLaw()
    {
        var f = _model.Frequencies;
        int count = 0;
        foreach (var (start, end, rate, logOneMinus) in _blocks)
        {
            if (rate >= 1.0)
            {
                for (int i = start; i < end; i++)
                    if (f[i] >= 1.0 || _rng.NextDouble() < f[i]) _active[count++] = i;
                continue;
            }
            int pos = start - 1;
            while (true)
            {
                // Skip ~Geometric(rate) candidates: the gap to the next Bernoulli(rate) success.
                double u = 1.0 - _rng.NextDouble();
                double gap = Math.Floor(Math.Log(u) / logOneMinus);
                if (pos + 1 + gap >= end) break;
                pos += 1 + (int)gap;
                if (_rng.NextDouble() * rate < f[pos]) _active[count++] = pos;
            }
        }
        return count;
    }

    static (int, int, double, double)[] BuildBlocks(double[] f)
    {
        var blocks = new List<(int, int, double, double)>();
        for (int start = 0, size = 1; start < f.Length; start += size, size *= 2)
        {
            int end = Math.Min(f.Length, start + size);
            double rate = 0;
            for (int i = start; i < end; i++) rate = Math.Max(rate, f[i]);
            if (rate <= 0) continue;
            blocks.Add((start, end, rate, rate >= 1.0 ? 0 : Math.Log(1.0 - rate)));
        }
        return blocks.ToArray();
    }

    /// <summary>Nothing to release.</summary>
    public void Dispose() { }
}
