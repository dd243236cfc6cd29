using GbaEngine.Streams;

namespace GbaEngine.Cli.Sweeps;

/// <summary>
/// One pass over a token stream shared by several consumers (trainers on their own threads): each
/// consumer sees exactly the source's row sequence, but every row is read from the source once. Rows
/// live in a ring of <c>capacity</c> rows between the slowest consumer and the newest row; whichever
/// consumer needs rows that are not there yet reads them from the source, and a consumer that runs
/// more than the ring ahead of the slowest waits for it. A consumer that is disposed stops holding
/// the others back. No single request may exceed the capacity.
/// </summary>
public sealed class BroadcastStream
{
    readonly ITokenStream _source;
    readonly int _dim;
    readonly long _capacity;
    readonly float[] _ring;
    readonly long[] _position;
    readonly object _gate = new();
    long _produced;

    public BroadcastStream(ITokenStream source, int consumers, long capacityRows)
    {
        if (consumers < 1) throw new ArgumentOutOfRangeException(nameof(consumers), consumers, "Need at least one consumer.");
        if (capacityRows < 1 || capacityRows * source.Dim > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(capacityRows), capacityRows, $"A ring of {capacityRows} rows of width {source.Dim} does not fit one array.");
        _source = source;
        _dim = source.Dim;
        _capacity = capacityRows;
        _ring = new float[capacityRows * _dim];
        _position = new long[consumers];
        Consumers = Enumerable.Range(0, consumers).Select(i => (ITokenStream)new Consumer(this, i)).ToArray();
    }

    /// <summary>One stream per consumer; each delivers the source's rows from the start.</summary>
    public IReadOnlyList<ITokenStream> Consumers { get; }

    /// <summary>Rows read from the source so far (each once, whatever the number of consumers).</summary>
    public long RowsRead { get { lock (_gate) return _produced; } }

    void Read(int consumer, Span<float> destination, int rows)
    {
        if (rows > _capacity) throw new ArgumentException($"A request of {rows} rows exceeds the shared ring of {_capacity} rows.");
        lock (_gate)
        {
            long start = _position[consumer], end = start + rows;
            if (start == long.MaxValue) throw new ObjectDisposedException(nameof(BroadcastStream), "This consumer was disposed.");
            while (_produced < end)
            {
                long room = _position.Min() + _capacity - _produced;
                if (room <= 0)
                {
                    Monitor.Wait(_gate);
                    continue;
                }
                int n = (int)Math.Min(room, end - _produced);
                Produce(n);
                Monitor.PulseAll(_gate);
            }
            Copy(start, rows, destination);
            _position[consumer] = end;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Reads n rows from the source into the ring after the newest row (wrapping around).</summary>
    void Produce(int n)
    {
        while (n > 0)
        {
            long at = _produced % _capacity;
            int chunk = (int)Math.Min(n, _capacity - at);
            _source.NextBatch(_ring.AsSpan((int)(at * _dim), chunk * _dim), chunk);
            _produced += chunk;
            n -= chunk;
        }
    }

    void Copy(long row, int rows, Span<float> destination)
    {
        int done = 0;
        while (done < rows)
        {
            long at = (row + done) % _capacity;
            int chunk = (int)Math.Min(rows - done, _capacity - at);
            _ring.AsSpan((int)(at * _dim), chunk * _dim).CopyTo(destination.Slice(done * _dim, chunk * _dim));
            done += chunk;
        }
    }

    void Release(int consumer)
    {
        lock (_gate)
        {
            _position[consumer] = long.MaxValue;
            Monitor.PulseAll(_gate);
        }
    }

    long PositionOf(int consumer) { lock (_gate) return _position[consumer]; }

    sealed class Consumer(BroadcastStream owner, int index) : ITokenStream
    {
        long _delivered;

        public int Dim => owner._dim;
        public long Position => _delivered;
        public string Describe() => owner._source.Describe() + $" (shared loader pass, consumer {index + 1} of {owner._position.Length})";

        public void NextBatch(Span<float> destination, int rows)
        {
            owner.Read(index, destination, rows);
            _delivered = owner.PositionOf(index);
        }

        public void Dispose() => owner.Release(index);
    }
}
