using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Encoders;

namespace GbaEngine.Training.Baselines;

/// <summary>
/// BatchTopK (Bussmann, Leask and Nanda 2024): of all B×M ReLU values y = z + b &gt; 0 in a batch keep
/// the k·B largest (ties: earlier token, then lower neuron), so L0 varies per token and averages k.
/// The dense B×M matrix is never formed: the encoder emits only candidates above a provisional
/// threshold θ (the ReLU gate on b − θ) and the global top k·B is selected from them. The selection is
/// exact, not approximate: an entry the encoder left out has y ≤ T = max_m fl(b_m − fl(b_m − θ)) (≈ θ;
/// rounding is monotone), so if the k·B-th candidate value v* exceeds T nothing left out could have
/// been kept. Otherwise (too few candidates, or v* ≤ T) θ is halved and the batch re-encoded, down
/// to θ = 0, where the candidates are every positive y and all of them are kept if there are fewer
/// than k·B. θ starts below the running threshold estimate, so one encoder pass is the rule.
/// Inference uses a ReLU with that threshold (<see cref="SaeArchitecture.ReluThreshold"/>): the EMA of
/// the smallest value kept per batch.
/// </summary>
internal sealed class BatchTopKSelection : IBaselineStep
{
    /// <summary>The provisional threshold as a fraction of the expected k·B-th value.</summary>
    const float Provisional = 0.8f;
    /// <summary>First batch, no estimate yet: inputs have mean norm 1, so y rarely exceeds 1.</summary>
    const float FirstGuess = 1f;
    /// <summary>Below this a provisional threshold is not worth another halving: go to 0.</summary>
    const float Smallest = 1e-4f;

    readonly SaeParameters _p;
    readonly SparseCode _candidates = new();
    readonly int[] _hist = new int[1 << 16];
    float _last;

    public BatchTopKSelection(SaeParameters parameters, int k, double decay)
    {
        if (k < 1 || k > parameters.Neurons) throw new ArgumentException($"BatchTopK needs 1 <= k <= M (got k = {k}, M = {parameters.Neurons}).");
        if (!(decay >= 0 && decay < 1)) throw new ArgumentException($"The threshold decay must lie in [0, 1) (got {decay}).");
        _p = parameters;
        K = k;
        Decay = decay;
    }

    public int K { get; }
    public double Decay { get; }

    /// <summary>The inference threshold: EMA of the smallest value kept per batch (0 before the first batch).</summary>
    public float Threshold { get; private set; }

    /// <summary>Encoder passes the last batch needed (1 unless the provisional threshold was too high).</summary>
    public int Passes { get; private set; }

    /// <summary>
    /// Fills code with the batch's k·B largest ReLU values (CSR, ascending neurons per token, h = y) and
    /// updates the threshold estimate. The encoder must be a ReLU threshold encoder of these parameters.
    /// </summary>
    public void Select(BatchEncoder encoder, AlignedArray x, int rows, SparseCode code)
    {
        long keep = (long)K * rows;
        if (keep > int.MaxValue) throw new ArgumentException($"BatchTopK keeps k·B = {keep} entries per batch: too many for one code.");
        Passes = 0;
        if (rows == 0)
        {
            code.Reset(0);
            return;
        }
        float theta = Threshold > 0 ? Provisional * MathF.Min(Threshold, _last) : FirstGuess;
        float kept;
        while (true)
        {
            encoder.Encode(x, rows, _candidates, null, theta);
            Passes++;
            if (TrySelect(rows, (int)keep, theta, code, out kept)) break;
            theta = theta > Smallest ? 0.5f * theta : 0f;
        }
        if (kept > 0)
        {
            Threshold = Threshold > 0 ? (float)(Decay * Threshold + (1 - Decay) * kept) : kept;
            _last = kept;
        }
    }

    /// <summary>The selection from the candidates, or false if they cannot be shown to contain it.</summary>
    bool TrySelect(int rows, int keep, float theta, SparseCode code, out float smallestKept)
    {
        var cand = _candidates;
        int n = cand.Count;
        smallestKept = 0;
        if (n < keep)
        {
            if (theta > 0) return false;
            // θ = 0: the candidates are every positive y; keep them all.
            code.Reset(rows);
            code.EnsureCapacity(n);
            cand.RowStart.AsSpan(0, rows + 1).CopyTo(code.RowStart);
            cand.Index.AsSpan(0, n).CopyTo(code.Index);
            cand.H.AsSpan(0, n).CopyTo(code.H);
            smallestKept = n == 0 ? 0 : MinOf(cand.H.AsSpan(0, n));
            return true;
        }
        float v = KthLargest(cand.H.AsSpan(0, n), keep);
        if (theta > 0 && !(v > ExcludedBound(theta))) return false;

        int greater = 0;
        foreach (float h in cand.H.AsSpan(0, n)) if (h > v) greater++;
        int ties = keep - greater;
        code.Reset(rows);
        code.EnsureCapacity(keep);
        int o = 0;
        for (int t = 0; t < rows; t++)
        {
            code.RowStart[t] = o;
            for (int r = cand.RowStart[t]; r < cand.RowStart[t + 1]; r++)
            {
                float h = cand.H[r];
                if (h > v || (h == v && ties-- > 0))
                {
                    code.Index[o] = cand.Index[r];
                    code.H[o++] = h;
                }
            }
        }
        code.RowStart[rows] = o;
        smallestKept = v;
        return true;
    }

    /// <summary>Largest y an entry the encoder left out can have: y = fl(z + b) with z + fl(b − θ) ≤ 0.</summary>
    float ExcludedBound(float theta)
    {
        var b = _p.Bias;
        float bound = float.NegativeInfinity;
        for (int m = 0; m < b.Length; m++)
        {
            float shifted = b[m] - theta;     // the same float op as the encoder's shifted bias
            bound = MathF.Max(bound, b[m] - shifted);
        }
        return bound;
    }

    static float MinOf(ReadOnlySpan<float> v)
    {
        float min = float.PositiveInfinity;
        foreach (float x in v) min = MathF.Min(min, x);
        return min;
    }

    /// <summary>
    /// The k-th largest of positive finite values (1 ≤ k ≤ length), by radix selection on the bit
    /// patterns (which order positive floats): two histogram passes over 16-bit digits, O(n).
    /// </summary>
    internal float KthLargest(ReadOnlySpan<float> values, int k)
    {
        var hist = _hist;
        Array.Clear(hist);
        foreach (float x in values) hist[BitConverter.SingleToInt32Bits(x) >>> 16]++;
        int above = 0, high = hist.Length - 1;
        for (; high > 0 && above + hist[high] < k; high--) above += hist[high];

        Array.Clear(hist);
        foreach (float x in values)
        {
            int bits = BitConverter.SingleToInt32Bits(x);
            if (bits >>> 16 == high) hist[bits & 0xFFFF]++;
        }
        int low = hist.Length - 1;
        for (; low > 0 && above + hist[low] < k; low--) above += hist[low];
        return BitConverter.Int32BitsToSingle(high << 16 | low);
    }

    void IBaselineStep.Initialize(SaeParameters p) { }

    void IBaselineStep.Encode(BatchEncoder encoder, AlignedArray x, int rows, SparseCode code) => Select(encoder, x, rows, code);

    double IBaselineStep.AddGradients(BatchEncoder encoder, SparseBackward backward, int rows, SparseCode code, SaeParameters grad,
        long step, long totalSteps) => 0;   // the kept entries are ReLU entries: SparseBackward's gradients are the whole story

    void IBaselineStep.AfterStep(SaeParameters p) { }

    void IBaselineStep.Publish(SparseAutoencoder model) => model.SetReluThreshold(Threshold);

    // The running threshold and the last batch's smallest kept value steer the next batch's first
    // encoder pass and the inference threshold: without them a resumed run would not be the same run.
    System.Text.Json.Nodes.JsonObject IBaselineStep.CaptureState() => new() { ["threshold"] = Threshold, ["last_kept"] = _last };

    void IBaselineStep.RestoreState(System.Text.Json.Nodes.JsonObject? state, string source)
    {
        if (state is null) throw new InvalidDataException($"{source}: the checkpoint has no BatchTopK threshold state (baseline_state).");
        try
        {
            Threshold = state["threshold"]!.GetValue<float>();
            _last = state["last_kept"]!.GetValue<float>();
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{source}: baseline_state needs numbers \"threshold\" and \"last_kept\" for BatchTopK.");
        }
        if (!float.IsFinite(Threshold) || Threshold < 0 || !float.IsFinite(_last) || _last < 0)
            throw new InvalidDataException($"{source}: baseline_state holds threshold {Threshold} and last_kept {_last}; both must be finite and non-negative.");
    }
}
