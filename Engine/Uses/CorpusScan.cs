using GbaEngine.Activations;
using GbaEngine.Streams;

namespace GbaEngine.Uses;

/// <summary>
/// One pass of a corpus through an SAE, batch by batch, in memory bounded by the batch: the rows of a token
/// stream are encoded (<see cref="CorpusEncoder"/>) and each token's code goes to a feature table or to the
/// sample pooling. For activation files in order, open the dataset with every row held out
/// (<c>LoaderOptions.EvalRows = long.MaxValue</c>) and pass <c>OpenEvalStream()</c> and <c>UsedRows</c>.
/// </summary>
public static class CorpusScan
{
    /// <summary>Rows per encoder call unless asked otherwise.</summary>
    public const int DefaultBatch = 4096;

    /// <summary>The feature table of <paramref name="rows"/> rows of <paramref name="stream"/> (without token contexts;
    /// see <see cref="FeatureTable.AttachContexts(string, int)"/>).</summary>
    /// <param name="encoder">The SAE.</param>
    /// <param name="stream">The corpus rows, in order.</param>
    /// <param name="rows">How many rows to read.</param>
    /// <param name="options">Table settings (defaults if null).</param>
    /// <param name="batch">Rows per encoder call.</param>
    /// <param name="progress">Called with the rows done after each batch.</param>
    public static FeatureTable Features(CorpusEncoder encoder, ITokenStream stream, long rows, FeatureTableOptions? options = null,
        int batch = DefaultBatch, Action<long>? progress = null)
    {
        var builder = new FeatureTableBuilder(encoder.Features, options);
        Run(encoder, stream, rows, batch, progress, (x, n) => encoder.Encode(x, n, builder.Add));
        return builder.Build();
    }

    /// <summary>The pooled codes of the samples (sentences) of <paramref name="rows"/> rows of <paramref name="stream"/>,
    /// with the sentence of each row read in step from the token text at <paramref name="tokenTextPath"/>
    /// (<see cref="TokenTextFile"/>; it must have at least <paramref name="rows"/> rows).</summary>
    /// <param name="encoder">The SAE.</param>
    /// <param name="stream">The corpus rows, in order.</param>
    /// <param name="rows">How many rows to read.</param>
    /// <param name="tokenTextPath">Token text naming each row's sentence.</param>
    /// <param name="pooling">How a sample's tokens pool.</param>
    /// <param name="batch">Rows per encoder call.</param>
    /// <param name="progress">Called with the rows done after each batch.</param>
    public static SampleCodes Samples(CorpusEncoder encoder, ITokenStream stream, long rows, string tokenTextPath,
        SamplePooling pooling = SamplePooling.Max, int batch = DefaultBatch, Action<long>? progress = null)
    {
        var builder = new SampleCodeBuilder(encoder.Features, pooling);
        using var text = TokenTextFile.Read(tokenTextPath).GetEnumerator();
        long row = 0;
        Run(encoder, stream, rows, batch, progress, (x, n) => encoder.Encode(x, n, (idx, val) =>
        {
            if (!text.MoveNext())
                throw new InvalidDataException($"{tokenTextPath}: {row} token rows, but the activations have {rows} (they must align row by row).");
            builder.Add(text.Current.Sentence, idx, val);
            row++;
        }));
        return builder.Build();
    }

    static void Run(CorpusEncoder encoder, ITokenStream stream, long rows, int batch, Action<long>? progress, Action<float[], int> encode)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (stream.Dim != encoder.Dim)
            throw new InvalidDataException($"The corpus rows have d = {stream.Dim}, but the SAE expects d_in = {encoder.Dim}.");
        var x = new float[(long)Math.Min(batch, Math.Max(rows, 1)) * encoder.Dim];
        for (long done = 0; done < rows;)
        {
            int n = (int)Math.Min(batch, rows - done);
            stream.NextBatch(x, n);
            encode(x, n);
            done += n;
            progress?.Invoke(done);
        }
    }
}
