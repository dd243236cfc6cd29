using GbaEngine.Kernels.Elementwise;
using GbaEngine.Streams;
using GbaEngine.Synthetic;
using GbaEngine.Formats;
using GbaEngine.Rng;

namespace GbaEngine.Activations;

/// <summary>
/// The trainer's view of an <see cref="ActivationDataset"/>: fp32 rows of a global row range
/// [begin, end), looping over epochs, every row exactly once per epoch.
///
/// Shuffled order, per epoch e: the range is cut into chunks of ChunkRows contiguous rows (the last
/// may be short; chunks may straddle shards); the chunk order is a Fisher-Yates permutation drawn
/// from Xoshiro256.Derive(seed, (e, window -1)); consecutive groups of W = ShuffleBufferRows /
/// ChunkRows chunks form a window, which is read into one buffer (chunks from anywhere in any shard,
/// so correlated tokens of one sequence are spread out) and emitted in a permutation drawn from
/// Derive(seed, (e, w)). Memory: the buffer plus 4 bytes per chunk, independent of dataset size.
///
/// Exact resume by re-derivation, not by saved state: every permutation is a pure function of
/// (seed, epoch, window), so <see cref="Position"/> alone locates the next row (epoch, window and
/// offset follow from it) and a stream opened at a recorded Position with the same seed and
/// <see cref="StreamOptions"/> yields exactly the rows the uninterrupted stream would have. Resume
/// costs one chunk permutation and one window read.
///
/// Non-finite rows stop the stream with an error naming file and row, or with NonFiniteRows.Skip
/// are dropped and counted in <see cref="SkippedRows"/>. Position counts source rows consumed, so it
/// exceeds the tokens delivered by exactly SkippedRows; that keeps resume exact while skipping.
/// </summary>
public sealed class ActivationStream : ITokenStream
{
    readonly ActivationDataset _data;
    readonly long _begin, _length;
    readonly int _dim;
    readonly bool _shuffle, _skip;
    readonly ulong _seed;
    readonly StreamOptions _options;
    readonly int _chunkRows, _windowChunks, _windowCount;
    readonly int _blockRows;            // rows converted then checked while still in L2
    readonly int[] _chunkOrder = [];
    readonly float[] _buffer = [];
    readonly int[] _permutation = [];
    readonly bool[] _bad = [];

    long _position, _skipped, _epoch, _validInEpoch;
    bool _epochFromStart;
    long _cursor;                       // file order: rows of this epoch consumed
    int _checkedShard = -1, _blocksSinceCheck; // file order: the shard last size-checked, blocks read since
    int _window, _windowRows, _offset;  // shuffled: current window, its size, rows of it consumed
    bool _windowLoaded;

    internal ActivationStream(ActivationDataset data, long begin, long end, StreamOptions options, ulong seed, long startPosition)
    {
        if (startPosition < 0) throw new ArgumentOutOfRangeException(nameof(startPosition), startPosition, "Position must be non-negative.");
        _data = data;
        _begin = begin;
        _length = end - begin;
        _dim = data.Dim;
        _options = options;
        _shuffle = options.Shuffle;
        _skip = data.Options.NonFinite == NonFiniteRows.Skip;
        _seed = seed;
        _chunkRows = options.ChunkRows;
        _blockRows = Math.Max(1, CacheBlockBytes / (_dim * sizeof(float)));
        if (_shuffle)
        {
            int bufferRows = (int)Math.Min(options.ResolveBufferRows(_dim), (_length + _chunkRows - 1) / _chunkRows * _chunkRows);
            long chunks = (_length + _chunkRows - 1) / _chunkRows;
            if (chunks > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(options), $"{chunks} chunks of {_chunkRows} rows: raise StreamOptions.ChunkRows.");
            _windowChunks = bufferRows / _chunkRows;
            _windowCount = (int)((chunks + _windowChunks - 1) / _windowChunks);
            _chunkOrder = new int[chunks];
            _buffer = GC.AllocateUninitializedArray<float>(bufferRows * _dim);
            _permutation = new int[bufferRows];
            _bad = new bool[bufferRows];
        }
        Seek(startPosition);
    }

    /// <summary>
    /// Rows are converted and then scanned for NaN/inf in blocks of this many bytes, so the scan reads
    /// from cache: checking a whole 4 MiB batch after converting it cost f32 file-order throughput
    /// about a third (4.3 vs 6.0 GB/s for a 256 MiB epoch at d = 1024, LoaderBenchmarks).
    /// </summary>
    const int CacheBlockBytes = 64 << 10;

    /// <summary>Row width d.</summary>
    public int Dim => _dim;

    /// <summary>Source rows consumed (delivered + skipped): what a checkpoint records to resume.</summary>
    public long Position => _position;

    /// <summary>Non-finite rows this stream object dropped since it was opened (NonFiniteRows.Skip only).</summary>
    public long SkippedRows => _skipped;

    /// <summary>Completed passes over the range.</summary>
    public long Epoch => _position / _length;

    /// <summary>The shuffle seed.</summary>
    public ulong Seed => _seed;
    /// <summary>How rows are ordered (part of the resume contract).</summary>
    public StreamOptions Options => _options;

    /// <summary>Seed, position and ordering options, for a checkpoint (the dataset re-derives the order from them).</summary>
    /// <remarks>A checkpoint of a stream whose files changed under it would resume into other data, so the
    /// files' sizes are checked first.</remarks>
    public StreamState CaptureState()
    {
        _data.EnsureIntact();
        return new StreamState
        {
            Kind = StreamKind.Activations, Position = Position, Description = Describe(), ShuffleSeed = _seed, Options = _options,
        };
    }

    /// <summary>Files, row range, shuffle seed and buffer, for logs and checkpoints.</summary>
    public string Describe() =>
        $"activations: {_data.Describe()}; rows [{_begin}, {_begin + _length}) " +
        (_shuffle ? $"shuffled (seed {_seed}, {_chunkRows}-row chunks, {_windowChunks * _chunkRows}-row buffer)" : "in file order");

    /// <summary>Fills the next rows (shuffled chunks across shards, looping over epochs).</summary>
    public void NextBatch(Span<float> destination, int rows)
    {
        if (rows < 0 || (long)rows * _dim > destination.Length)
            throw new ArgumentException($"Need {(long)rows * _dim} floats for {rows} rows of d = {_dim}, destination has {destination.Length}.", nameof(destination));
        if (_shuffle) NextShuffled(destination, rows);
        else NextInOrder(destination, rows);
    }

    void NextInOrder(Span<float> destination, int rows)
    {
        int filled = 0;
        while (filled < rows)
        {
            if (_cursor == _length) StartEpoch(_epoch + 1);
            int n = (int)Math.Min(Math.Min(rows - filled, _length - _cursor), _blockRows);
            EnsureIntactInOrder(_begin + _cursor, n);
            var block = destination.Slice(filled * _dim, n * _dim);
            _data.ReadRows(_begin + _cursor, n, block);
            int kept = 0;
            for (int i = 0; i < n; i++)
            {
                var row = block.Slice(i * _dim, _dim);
                if (NonFinite.Any(row)) { Reject(_begin + _cursor + i); continue; }
                if (kept != i) row.CopyTo(block.Slice(kept * _dim, _dim));
                kept++;
            }
            _cursor += n;
            _position += n;
            _validInEpoch += kept;
            filled += kept;
        }
    }

    /// <summary>
    /// File order: the size check when the read enters another shard, and every <see cref="CheckEveryBlocks"/>
    /// blocks (a few MB) within one, so one fstat costs well under 1% of the reading.
    /// </summary>
    void EnsureIntactInOrder(long row, int count)
    {
        int shard = _data.ShardIndexOf(row + count - 1);
        if (shard == _checkedShard && ++_blocksSinceCheck < CheckEveryBlocks) return;
        _data.EnsureIntact(row, count);
        _checkedShard = shard;
        _blocksSinceCheck = 0;
    }

    const int CheckEveryBlocks = 64;

    void NextShuffled(Span<float> destination, int rows)
    {
        int filled = 0;
        while (filled < rows)
        {
            if (!_windowLoaded) LoadWindow();
            if (_offset == _windowRows)
            {
                if (++_window == _windowCount) StartEpoch(_epoch + 1);
                _offset = 0;
                _windowLoaded = false;
                continue;
            }
            int r = _permutation[_offset++];
            _position++;
            if (_bad[r]) { _skipped++; continue; }
            _buffer.AsSpan(r * _dim, _dim).CopyTo(destination.Slice(filled * _dim, _dim));
            _validInEpoch++;
            filled++;
        }
    }

    void Seek(long position)
    {
        _position = position;
        _epoch = position / _length;
        long inEpoch = position % _length;
        StartEpoch(_epoch);
        _epochFromStart = inEpoch == 0;
        if (!_shuffle)
        {
            _cursor = inEpoch;
            return;
        }
        long start = 0;
        for (_window = 0; ; _window++)
        {
            long rows = WindowRows(_window);
            if (inEpoch < start + rows) break;
            start += rows;
        }
        _offset = (int)(inEpoch - start);
    }

    /// <summary>Enters epoch <paramref name="epoch"/>: a fresh chunk order, first window, and the all-rows-bad guard.</summary>
    void StartEpoch(long epoch)
    {
        if (_epochFromStart && _validInEpoch == 0 && epoch > _epoch)
            throw new ActivationFormatException(_data.Locate(_begin).Shard.Path,
                $"all {_length} rows of [{_begin}, {_begin + _length}) (from this shard on, {_data.Shards.Count} shard(s)) are non-finite: nothing to deliver.");
        _epoch = epoch;
        _epochFromStart = true;
        _validInEpoch = 0;
        _cursor = 0;
        _window = 0;
        _offset = 0;
        _windowLoaded = false;
        if (!_shuffle) return;
        for (int i = 0; i < _chunkOrder.Length; i++) _chunkOrder[i] = i;
        var rng = Rng(epoch, -1);
        Shuffle(_chunkOrder, _chunkOrder.Length, ref rng);
    }

    long WindowRows(int window)
    {
        long rows = 0;
        int first = window * _windowChunks, last = Math.Min(first + _windowChunks, _chunkOrder.Length);
        for (int k = first; k < last; k++) rows += ChunkLength(_chunkOrder[k]);
        return rows;
    }

    int ChunkLength(int chunk) => (int)Math.Min(_chunkRows, _length - (long)chunk * _chunkRows);

    void LoadWindow()
    {
        int first = _window * _windowChunks, last = Math.Min(first + _windowChunks, _chunkOrder.Length);
        int rows = 0;
        for (int k = first; k < last; k++)
        {
            long chunkStart = _begin + (long)_chunkOrder[k] * _chunkRows;
            int chunkRows = ChunkLength(_chunkOrder[k]);
            // One fstat per shard a chunk touches, before any of its bytes: a window is MBs of reading.
            _data.EnsureIntact(chunkStart, chunkRows);
            for (int done = 0; done < chunkRows;)
            {
                int n = Math.Min(chunkRows - done, _blockRows);
                _data.ReadRows(chunkStart + done, n, _buffer.AsSpan(rows * _dim, n * _dim));
                for (int i = 0; i < n; i++)
                {
                    bool bad = NonFinite.Any(_buffer.AsSpan((rows + i) * _dim, _dim));
                    if (bad && !_skip) Reject(chunkStart + done + i);
                    _bad[rows + i] = bad;
                }
                rows += n;
                done += n;
            }
        }
        _windowRows = rows;
        for (int i = 0; i < rows; i++) _permutation[i] = i;
        var rng = Rng(_epoch, _window);
        Shuffle(_permutation, rows, ref rng);
        _windowLoaded = true;
    }

    /// <summary>Counts a non-finite row as skipped, or throws naming its file and row.</summary>
    void Reject(long globalRow)
    {
        if (!_skip)
        {
            var (shard, row) = _data.Locate(globalRow);
            throw new ActivationFormatException(shard.Path,
                $"row {row} (dataset row {globalRow}) contains NaN or infinity: expected finite activations", FormatRemedy.SkipNonFinite);
        }
        _skipped++;
    }

    Xoshiro256 Rng(long epoch, int window) => Xoshiro256.Derive(_seed, ((ulong)epoch << 32) | (uint)(window + 1));

    static void Shuffle(int[] items, int count, ref Xoshiro256 rng)
    {
        for (int i = count - 1; i > 0; i--)
        {
            int j = rng.NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>Nothing to release: the dataset owns the files.</summary>
    public void Dispose() { }
}
