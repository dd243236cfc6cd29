using GbaEngine.Kernels.Elementwise;
using GbaEngine.Kernels.Gemm;
using GbaEngine.Memory;
using GbaEngine.Model;
using GbaEngine.Threading;

namespace GbaEngine.Encoders;

/// <summary>
/// The MP-SAE encoder (Costa et al. 2025; spec/gba.md §4): matching pursuit unrolled over the tied
/// unit-norm dictionary D (the decoder rows). Per token: r₀ = x − b_pre; for s = 1..T:
/// j = argmax_m relu(D_m·r), c = D_j·r, z_j += c, r −= c·D_j; then x̂ = b_pre + Σ z_j D_j = x − r_T.
/// A token stops early when no atom correlates positively with its residual, when ‖r‖ falls to
/// <see cref="ResidualThreshold"/>, or (with <see cref="StopOnRepeat"/>) when the chosen atom is
/// already in its support. T is an inference-time choice (<see cref="Steps"/>): the same dictionary
/// can be run with more or fewer steps than it was trained with.
/// The correlations D·r of a step are one SGEMM over the batch (R [B × d] · Dᵀ); the argmax,
/// coefficient (an exact dot) and residual update (axpy) run per token over fixed token ranges.
/// The per-token trace (atoms and coefficients in order) and final residuals are kept for
/// <c>Training.MatchingPursuitBackward</c>. Output scale a is not used (x̂ uses z directly, a ≡ 1).
/// </summary>
public sealed unsafe class MatchingPursuitEncoder : IDisposable
{
    readonly SaeParameters _p;
    readonly Kernels.KernelSet _set;
    readonly int _threads;
    readonly int _mPad;
    readonly SgemmContext _gemm;
    readonly AlignedArray _corr;       // [B × MPad] D·r of the current step
    readonly bool[] _active;
    readonly int[] _taken;              // steps taken per token
    readonly int[] _counts;             // per-batch firings and max z, merged into the caller's statistics
    readonly float[] _maxZ;
    int[] _atoms = [];                  // [B × T] trace: atom chosen at each step
    float[] _coeffs = [];               // [B × T] trace: its coefficient c
    int _traceSteps;

    /// <param name="arch">A tied architecture; its K is the default number of steps.</param>
    /// <param name="kernels">The kernel set (default: <see cref="Kernels.KernelSelector.Current"/>).</param>
    public MatchingPursuitEncoder(SaeArchitecture arch, SaeParameters parameters, int batchCapacity, int threads, Kernels.KernelSet? kernels = null)
    {
        _set = kernels ?? Kernels.KernelSelector.Current;
        arch.Validate();
        if (!parameters.Tied) throw new ArgumentException("Matching pursuit needs a tied dictionary.");
        _p = parameters;
        _threads = Math.Max(1, threads);
        _mPad = AlignedArray.PadToLine(parameters.Neurons);
        _gemm = new SgemmContext(_threads, _set);
        _corr = new AlignedArray((long)batchCapacity * _mPad);
        Residual = new AlignedArray((long)batchCapacity * parameters.Stride);
        _active = new bool[batchCapacity];
        _taken = new int[batchCapacity];
        _counts = new int[parameters.Neurons];
        _maxZ = new float[parameters.Neurons];
        BatchCapacity = batchCapacity;
        Steps = arch.Sparsity == SparsityMode.MatchingPursuit ? arch.K : 1;
    }

    /// <summary>Most tokens one call encodes.</summary>
    public int BatchCapacity { get; }

    /// <summary>T, the most pursuit steps per token.</summary>
    public int Steps
    {
        get;
        set => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(Steps), value, "Matching pursuit needs at least one step.");
    }

    /// <summary>A token stops once ‖r‖ ≤ this (normalised space); 0 runs every step.</summary>
    public float ResidualThreshold { get; set; }

    /// <summary>Stop a token when its next atom is already in its support (the support stopped changing).</summary>
    public bool StopOnRepeat { get; set; }

    /// <summary>[B × Stride] the final residuals r_T of the last batch (x̂ − x = −r_T).</summary>
    internal AlignedArray Residual { get; }

    /// <summary>Steps token t took in the last batch.</summary>
    public int StepsTaken(int token) => _taken[token];

    /// <summary>The atom and coefficient of step s (0-based) of token t in the last batch.</summary>
    public (int Atom, float Coefficient) Trace(int token, int step)
    {
        if ((uint)step >= (uint)_taken[token]) throw new ArgumentOutOfRangeException(nameof(step));
        return (_atoms[token * _traceSteps + step], _coeffs[token * _traceSteps + step]);
    }

    /// <summary>Encodes rows of X [rows × Stride] (already normalised): fills the code (z per atom,
    /// ascending atoms), the residuals and the trace; adds firings (atom chosen) and max z to stats.</summary>
    internal void Encode(AlignedArray x, int rows, SparseCode code, FiringStatistics? stats)
    {
        if (rows > BatchCapacity) throw new ArgumentException($"Batch of {rows} rows exceeds capacity {BatchCapacity}.");
        int stride = _p.Stride, d = _p.Dim, m = _p.Neurons, steps = Steps;
        if (_traceSteps < steps || _atoms.Length < BatchCapacity * steps)
        {
            _atoms = new int[BatchCapacity * steps];
            _coeffs = new float[BatchCapacity * steps];
        }
        _traceSteps = steps;
        var set = _set;
        float thr2 = ResidualThreshold * ResidualThreshold;
        FixedPartition.Run(rows, _threads, (_, s, e) =>
        {
            var xs = x.Span;
            var rs = Residual.Span;
            var pre = _p.PreBias;
            for (int t = s; t < e; t++)
            {
                var r = rs.Slice(t * stride, stride);
                var src = xs.Slice(t * stride, stride);
                for (int j = 0; j < d; j++) r[j] = src[j] - pre[j];
                r[d..].Clear();
                _taken[t] = 0;
                _active[t] = thr2 == 0 || Blas1.Dot(r[..d], r[..d], set) > thr2;
            }
        }, granule: 4);

        for (int step = 0; step < steps && rows > 0; step++)
        {
            bool any = false;
            for (int t = 0; t < rows && !any; t++) any = _active[t];
            if (!any) break;
            // corr [rows × M] = R [rows × d] · Dᵀ; rows already stopped are computed too (cheaper than compacting).
            _gemm.Multiply(GemmTranspose.NoTranspose, GemmTranspose.Transpose, rows, m, d, 1f,
                Residual.Pointer, stride, _p.Data.Pointer + _p.DecoderOffset, stride, 0f, _corr.Pointer, _mPad);
            int stepIndex = step;
            FixedPartition.Run(rows, _threads, (_, s, e) =>
            {
                var corr = _corr.Span;
                var rs = Residual.Span;
                for (int t = s; t < e; t++)
                {
                    if (!_active[t]) continue;
                    var row = corr.Slice(t * _mPad, m);
                    int best = -1;
                    float bestValue = 0f;
                    for (int k = 0; k < row.Length; k++)
                        if (row[k] > bestValue) { bestValue = row[k]; best = k; }
                    if (best < 0 || (StopOnRepeat && _atoms.AsSpan(t * steps, _taken[t]).Contains(best))) { _active[t] = false; continue; }
                    var r = rs.Slice(t * stride, stride);
                    var atom = _p.DecoderRow(best);
                    // The coefficient is an exact dot (not the GEMM's value) so that the residual is
                    // orthogonal to the atom to float precision.
                    float c = Blas1.Dot(atom, r, set);
                    if (!(c > 0)) { _active[t] = false; continue; }
                    Blas1.Axpy(-c, atom, r, set);
                    _atoms[t * steps + stepIndex] = best;
                    _coeffs[t * steps + stepIndex] = c;
                    _taken[t]++;
                    if (thr2 > 0 && Blas1.Dot(r, r, set) <= thr2) _active[t] = false;
                }
            }, granule: 4);
        }
        BuildCode(rows, steps, code, stats);
    }

    /// <summary>Sums each token's coefficients per atom into the CSR code (ascending atoms).</summary>
    void BuildCode(int rows, int steps, SparseCode code, FiringStatistics? stats)
    {
        int total = 0;
        for (int t = 0; t < rows; t++) total += _taken[t];
        code.Reset(rows);
        code.EnsureCapacity(total);
        if (stats != null)
        {
            Array.Clear(_counts);
            Array.Fill(_maxZ, float.NegativeInfinity);
        }
        Span<int> atoms = steps <= 256 ? stackalloc int[steps] : new int[steps];
        Span<float> values = steps <= 256 ? stackalloc float[steps] : new float[steps];
        int offset = 0;
        for (int t = 0; t < rows; t++)
        {
            code.RowStart[t] = offset;
            int n = _taken[t];
            _atoms.AsSpan(t * steps, n).CopyTo(atoms);
            _coeffs.AsSpan(t * steps, n).CopyTo(values);
            atoms[..n].Sort(values[..n]);
            for (int i = 0; i < n; i++)
            {
                if (i > 0 && atoms[i] == atoms[i - 1]) { code.H[offset - 1] += values[i]; continue; }
                code.Index[offset] = atoms[i];
                code.H[offset] = values[i];
                offset++;
            }
            if (stats != null)
                for (int r = code.RowStart[t]; r < offset; r++)
                {
                    int k = code.Index[r];
                    _counts[k]++;
                    _maxZ[k] = MathF.Max(_maxZ[k], code.H[r]);
                }
        }
        code.RowStart[rows] = offset;
        if (stats != null)
        {
            stats.Merge(_counts, _maxZ);
            stats.AddTokens(rows);
        }
    }

    /// <summary>The same dictionary run with T = <paramref name="steps"/> pursuit steps (shares the parameters).</summary>
    public static SparseAutoencoder WithSteps(SparseAutoencoder sae, int steps)
    {
        if (sae.Architecture.Sparsity != SparsityMode.MatchingPursuit)
            throw new ArgumentException($"Only a matching-pursuit SAE has a step count (this one is {sae.Architecture.Sparsity}).");
        return new SparseAutoencoder(sae.Architecture with { K = steps }, sae.Parameters, sae.Normalization, sae.InputScale, sae.Kernels);
    }

    /// <summary>Releases the SGEMM context.</summary>
    public void Dispose() => _gemm.Dispose();
}
