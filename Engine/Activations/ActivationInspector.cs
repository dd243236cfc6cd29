using GbaEngine.Kernels.Elementwise;
using GbaEngine.Formats;

namespace GbaEngine.Activations;

/// <summary>A dimension whose variance exceeds the outlier factor times the median variance.</summary>
public readonly record struct OutlierDim(int Index, double Variance, double RatioToMedian);

/// <summary>
/// Summary statistics of a set of rows. Moments cover finite rows only (rows with any NaN/inf are
/// counted, not averaged); variances are population variances per dimension.
/// </summary>
public sealed record ActivationStats(
    long Rows,
    int Dim,
    long NonFiniteRows,
    long NonFiniteValues,
    double MeanNorm,
    double MaxNorm,
    IReadOnlyList<double> Mean,
    IReadOnlyList<double> Variance,
    double MedianVariance,
    IReadOnlyList<OutlierDim> OutlierDims);

/// <summary>One file's description and statistics.</summary>
public sealed record ShardInspection(string Path, ShardFormat Format, ActivationDType DType, IReadOnlyList<long> Shape, string? TensorName, ActivationStats Stats);

/// <summary>
/// Every file's statistics and, when all files share one row width, the totals merged from them
/// (Dim and Total are null for files of different widths).
/// </summary>
public sealed record DatasetInspection(int? Dim, long Tokens, IReadOnlyList<ShardInspection> Shards, ActivationStats? Total);

/// <summary>
/// What a user checks before training: shape, dtype, token count, token norms, per-dimension
/// variance with outlier dimensions (transformer residual streams typically have a few dims with
/// variance tens of times the median, which is why training centres and scales), NaN/inf counts.
/// One streaming pass over each file in fixed-size chunks: memory is O(d) per shard whatever the
/// file size. Per-dimension moments use Welford's update per shard and Chan's pairwise merge for the
/// total, so large means do not cancel the variance as sum-of-squares would.
/// </summary>
public static class ActivationInspector
{
    /// <summary>A dimension whose variance exceeds this multiple of the median is reported as an outlier.</summary>
    public const double DefaultOutlierFactor = 10;

    /// <summary>An opened dataset: its shards and their total.</summary>
    public static DatasetInspection Inspect(ActivationDataset dataset, double outlierFactor = DefaultOutlierFactor) =>
        Summarise(dataset.Shards.Select(s => Measure(s, outlierFactor)).ToList(), outlierFactor);

    /// <summary>
    /// Files, directories and globs, each file opened, measured and closed in turn. Unlike opening a
    /// dataset, files of different widths are allowed (a diagnostic should describe them all), and a
    /// bad file is reported as <see cref="ActivationFormatException"/> like anywhere else.
    /// </summary>
    public static DatasetInspection Inspect(IReadOnlyList<string> paths, LoaderOptions? options = null, double outlierFactor = DefaultOutlierFactor)
    {
        options ??= new LoaderOptions();
        options.Validate();
        var measured = new List<(ShardInspection, Moments)>();
        foreach (var file in ShardPaths.Expand(paths, options))
        {
            using var shard = ActivationShard.Open(file, options);
            measured.Add(Measure(shard, outlierFactor));
        }
        return Summarise(measured, outlierFactor);
    }

    static (ShardInspection, Moments) Measure(ActivationShard shard, double outlierFactor)
    {
        int dim = shard.Dim;
        int chunkRows = (int)Math.Clamp((4L << 20) / dim, 1, 4096);
        var buffer = new float[chunkRows * dim];
        var m = new Moments(dim);
        for (long row = 0; row < shard.Rows; row += chunkRows)
        {
            int n = (int)Math.Min(chunkRows, shard.Rows - row);
            shard.ReadRows(row, n, buffer);
            for (int r = 0; r < n; r++) m.Add(buffer.AsSpan(r * dim, dim));
        }
        return (new ShardInspection(shard.Path, shard.Format, shard.DType, shard.Shape, shard.TensorName, m.ToStats(outlierFactor)), m);
    }

    static DatasetInspection Summarise(List<(ShardInspection Shard, Moments Moments)> measured, double outlierFactor)
    {
        var shards = measured.Select(x => x.Shard).ToList();
        long tokens = shards.Sum(s => s.Stats.Rows);
        var dims = shards.Select(s => s.Stats.Dim).Distinct().ToList();
        if (dims.Count != 1) return new DatasetInspection(null, tokens, shards, null);
        var total = new Moments(dims[0]);
        foreach (var (_, m) in measured) total.Merge(m);
        return new DatasetInspection(dims[0], tokens, shards, total.ToStats(outlierFactor));
    }

    sealed class Moments(int dim)
    {
        readonly double[] _mean = new double[dim];
        readonly double[] _m2 = new double[dim];
        long _rows, _finite, _nonFiniteRows, _nonFiniteValues;
        double _normSum, _normMax;

        public void Add(ReadOnlySpan<float> x)
        {
            _rows++;
            if (NonFinite.Any(x))
            {
                _nonFiniteRows++;
                foreach (var v in x) if (!float.IsFinite(v)) _nonFiniteValues++;
                return;
            }
            _finite++;
            double inv = 1.0 / _finite, squares = 0;
            for (int j = 0; j < x.Length; j++)
            {
                double v = x[j], delta = v - _mean[j];
                _mean[j] += delta * inv;
                _m2[j] += delta * (v - _mean[j]);
                squares += v * v;
            }
            double norm = Math.Sqrt(squares);
            _normSum += norm;
            _normMax = Math.Max(_normMax, norm);
        }

        public void Merge(Moments o)
        {
            long n = _finite + o._finite;
            if (o._finite > 0)
            {
                for (int j = 0; j < _mean.Length; j++)
                {
                    double delta = o._mean[j] - _mean[j];
                    _mean[j] += delta * o._finite / n;
                    _m2[j] += o._m2[j] + delta * delta * ((double)_finite * o._finite / n);
                }
            }
            _finite = n;
            _rows += o._rows;
            _nonFiniteRows += o._nonFiniteRows;
            _nonFiniteValues += o._nonFiniteValues;
            _normSum += o._normSum;
            _normMax = Math.Max(_normMax, o._normMax);
        }

        public ActivationStats ToStats(double outlierFactor)
        {
            var variance = _m2.Select(m => _finite > 0 ? m / _finite : double.NaN).ToArray();
            var sorted = variance.Order().ToArray();
            double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
            var outliers = new List<OutlierDim>();
            if (median > 0)
                for (int j = 0; j < variance.Length; j++)
                    if (variance[j] > outlierFactor * median) outliers.Add(new OutlierDim(j, variance[j], variance[j] / median));
            outliers.Sort((a, b) => b.Variance.CompareTo(a.Variance));
            return new ActivationStats(_rows, _mean.Length, _nonFiniteRows, _nonFiniteValues,
                _finite > 0 ? _normSum / _finite : double.NaN, _finite > 0 ? _normMax : double.NaN,
                _mean.ToArray(), variance, median, outliers);
        }
    }
}
