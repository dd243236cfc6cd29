using GbaEngine.Formats;
using GbaEngine.Streams;
namespace GbaEngine.Activations;

/// <summary>
/// A set of activation shards with one row width, seen as one sequence of rows (shards concatenated
/// in order). Rows [0, UsedRows) are used (RowLimit), of which the last EvalRows are held out:
/// training streams read [0, TrainRows), eval streams [TrainRows, UsedRows). Opening maps and
/// validates every shard but reads no data. Disposing unmaps the files; streams opened from a
/// dataset must not outlive it.
/// </summary>
public sealed class ActivationDataset : IDisposable
{
    readonly ActivationShard[] _shards;
    readonly long[] _starts; // _starts[i] = first global row of shard i; _starts[^1] = TokenCount

    ActivationDataset(ActivationShard[] shards, LoaderOptions options)
    {
        _shards = shards;
        Options = options;
        Dim = shards[0].Dim;
        _starts = new long[shards.Length + 1];
        for (int i = 0; i < shards.Length; i++) _starts[i + 1] = checked(_starts[i] + shards[i].Rows);
        TokenCount = _starts[^1];
        UsedRows = Math.Min(TokenCount, options.RowLimit ?? long.MaxValue);
        EvalRows = options.EvalRows is { } n ? Math.Min(n, UsedRows) : (long)Math.Floor(UsedRows * options.EvalFraction);
        TrainRows = UsedRows - EvalRows;
    }

    /// <summary>How the files are read.</summary>
    public LoaderOptions Options { get; }
    /// <summary>Row width d, the same in every shard.</summary>
    public int Dim { get; }
    /// <summary>Rows in all shards together.</summary>
    public long TokenCount { get; }
    /// <summary>Rows used: TokenCount capped by RowLimit.</summary>
    public long UsedRows { get; }
    /// <summary>Rows the training stream draws from: [0, TrainRows).</summary>
    public long TrainRows { get; }
    /// <summary>Held-out rows after them: [TrainRows, UsedRows).</summary>
    public long EvalRows { get; }
    /// <summary>The files, in dataset order.</summary>
    public IReadOnlyList<ActivationShard> Shards => _shards;

    /// <summary>Opens files, directories and globs (see <see cref="ShardPaths"/>) as one dataset.</summary>
    public static ActivationDataset Open(IReadOnlyList<string> paths, LoaderOptions? options = null)
    {
        options ??= new LoaderOptions();
        options.Validate();
        if (paths.Count == 0) throw new ArgumentException("No activation paths given.", nameof(paths));
        var files = ShardPaths.Expand(paths, options);
        var shards = new List<ActivationShard>(files.Count);
        try
        {
            foreach (var file in files)
            {
                var shard = ActivationShard.Open(file, options);
                shards.Add(shard);
                if (shard.Dim != shards[0].Dim)
                    throw new ActivationFormatException(file, $"row width d = {shard.Dim}, but the first shard {shards[0].Path} has d = {shards[0].Dim}: every shard must have the same d.");
            }
            if (shards.Sum(s => s.Rows) == 0)
                throw new ActivationFormatException(files[0], $"the dataset ({files.Count} file(s)) holds no rows.");
            return new ActivationDataset(shards.ToArray(), options);
        }
        catch
        {
            foreach (var s in shards) s.Dispose();
            throw;
        }
    }

    /// <summary>Opens one file, directory or glob (see the list overload).</summary>
    public static ActivationDataset Open(string path, LoaderOptions? options = null) => Open([path], options);

    /// <summary>
    /// A training stream over rows [0, TrainRows), looping over epochs. Re-creating it with the same
    /// seed and options at a Position recorded from an earlier stream continues exactly where that
    /// stream was (see <see cref="ActivationStream"/>).
    /// </summary>
    public ActivationStream OpenStream(ulong seed, long startPosition = 0, StreamOptions? options = null)
    {
        if (TrainRows == 0) throw new InvalidOperationException($"No training rows: all {UsedRows} used rows are held out for evaluation.");
        return new ActivationStream(this, 0, TrainRows, options ?? new StreamOptions(), seed, startPosition);
    }

    /// <summary>Opens the training stream at the position, seed and options a checkpoint recorded.</summary>
    public ActivationStream OpenStream(StreamState state)
    {
        if (state.Kind != StreamKind.Activations) throw new ArgumentException($"The checkpoint recorded a {state.Kind} stream, not an activation stream.", nameof(state));
        return OpenStream(state.ShuffleSeed, state.Position, state.Options);
    }

    /// <summary>The held-out rows [TrainRows, UsedRows) in file order, looping; one pass is EvalRows rows.</summary>
    public ActivationStream OpenEvalStream(long startPosition = 0)
    {
        if (EvalRows == 0) throw new InvalidOperationException("No evaluation rows: set LoaderOptions.EvalRows or EvalFraction.");
        return new ActivationStream(this, TrainRows, UsedRows, new StreamOptions { Shuffle = false }, 0, startPosition);
    }

    /// <summary>
    /// Throws an <see cref="ActivationFormatException"/> naming the first file that is shorter now than
    /// when it was opened (truncated or overwritten while in use). Streams run it at shard boundaries and
    /// window loads and when a checkpoint captures them; see <see cref="FileReads"/>.
    /// </summary>
    public void EnsureIntact()
    {
        foreach (var s in _shards) s.EnsureIntact();
    }

    /// <summary>Checks the files holding rows [row, row + count) as <see cref="EnsureIntact()"/> does.</summary>
    internal void EnsureIntact(long row, long count)
    {
        for (int i = ShardIndexOf(row); i < _shards.Length && _starts[i] < row + count; i++) _shards[i].EnsureIntact();
    }

    /// <summary>The index of the shard holding global row <paramref name="row"/>.</summary>
    internal int ShardIndexOf(long row)
    {
        if ((ulong)row >= (ulong)TokenCount) throw new ArgumentOutOfRangeException(nameof(row), row, $"Row outside [0, {TokenCount}).");
        int i = Array.BinarySearch(_starts, row);
        if (i < 0) i = ~i - 1;
        while (_shards[i].Rows == 0 || row >= _starts[i + 1]) i++; // skip empty shards sharing a start
        return i;
    }

    /// <summary>The shard holding global row <paramref name="row"/> and the row's index inside it.</summary>
    public (ActivationShard Shard, long Row) Locate(long row)
    {
        int i = ShardIndexOf(row);
        return (_shards[i], row - _starts[i]);
    }

    /// <summary>Converts global rows [row, row + count) to fp32, crossing shard boundaries as needed.</summary>
    internal void ReadRows(long row, int count, Span<float> destination)
    {
        while (count > 0)
        {
            var (shard, local) = Locate(row);
            int n = (int)Math.Min(count, shard.Rows - local);
            shard.ReadRows(local, n, destination);
            destination = destination[(n * Dim)..];
            row += n;
            count -= n;
        }
    }

    /// <summary>Files, row counts and the train/eval split, for logs.</summary>
    public string Describe() =>
        $"{_shards.Length} shard(s) [{string.Join(", ", _shards.Take(3).Select(s => Path.GetFileName(s.Path)))}{(_shards.Length > 3 ? ", ..." : "")}], d = {Dim}, {TokenCount} tokens ({TrainRows} train, {EvalRows} eval)";

    /// <summary>Unmaps every file.</summary>
    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }
}
