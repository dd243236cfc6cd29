using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using GbaEngine.Formats;

namespace GbaEngine.Onnx.Tokens;

/// <summary>How text becomes fixed-length rows.</summary>
public enum TextPacking
{
    /// <summary>Every document's tokens in one stream (documents separated by EOS), cut into rows; the last partial row is dropped.</summary>
    Pack,
    /// <summary>One row per document, its first tokens; documents shorter than a row are skipped.</summary>
    Truncate,
}

/// <summary>How --text input is tokenized into rows.</summary>
/// <param name="Context">Tokens per row, T (BOS included).</param>
/// <param name="PrependBos">Start every row with the tokenizer's BOS id (then T-1 text tokens follow).</param>
/// <param name="Packing">Pack documents into rows, or truncate each document to one row.</param>
/// <param name="TextField">The JSON field holding a document in a .jsonl file.</param>
/// <param name="MaxSequences">Stop after this many rows (null: every row the text gives).</param>
public sealed record TextTokenOptions(int Context, bool PrependBos = false, TextPacking Packing = TextPacking.Pack, string TextField = "text", int? MaxSequences = null);

/// <summary>
/// The token rows a model is run on: ids [Rows × Length] row-major (sequence-major, like the activations harvested
/// from them), where they came from, and the text of each id when a tokenizer is known.
/// </summary>
public sealed class TokenSequences
{
    TokenSequences(long[] ids, int rows, int length, string source, TextTokenizer? tokenizer)
    {
        Ids = ids;
        Rows = rows;
        Length = length;
        Source = source;
        Tokenizer = tokenizer;
    }

    /// <summary>Row-major ids [Rows × Length].</summary>
    public long[] Ids { get; }

    /// <summary>Number of sequences S.</summary>
    public int Rows { get; }

    /// <summary>Tokens per sequence T.</summary>
    public int Length { get; }

    /// <summary>The file the ids or text came from.</summary>
    public string Source { get; }

    /// <summary>The tokenizer that made them or names them, if any.</summary>
    public TextTokenizer? Tokenizer { get; }

    /// <summary>The ids of sequence <paramref name="row"/>.</summary>
    public ReadOnlySpan<long> Row(int row) => Ids.AsSpan(row * Length, Length);

    /// <summary>SHA-256 of the ids and their shape: a resumed harvest must continue the same tokens.</summary>
    public string Fingerprint()
    {
        var bytes = new byte[Ids.Length * 8 + 8];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 4), Rows);
        BitConverter.TryWriteBytes(bytes.AsSpan(4, 4), Length);
        Buffer.BlockCopy(Ids, 0, bytes, 8, Ids.Length * 8);
        return Convert.ToHexStringLower(SHA256.HashData(bytes));
    }

    /// <summary>Ids saved with np.save: int32 or int64 [S, T]. An optional tokenizer names the pieces in tokens.tsv.</summary>
    public static TokenSequences FromNpy(string path, TextTokenizer? tokenizer = null)
    {
        var (ids, rows, cols) = TokenIdsFile.Read(path);
        return new TokenSequences(ids, rows, cols, path, tokenizer);
    }

    /// <summary>Ids already in memory, [rows × length] row-major.</summary>
    public static TokenSequences FromIds(long[] ids, int rows, int length, string source, TextTokenizer? tokenizer = null)
    {
        if (rows < 1 || length < 1 || ids.Length != (long)rows * length)
            throw new ArgumentException($"{ids.Length} ids do not make {rows} rows of {length}.");
        return new TokenSequences(ids, rows, length, source, tokenizer);
    }

    /// <summary>
    /// Tokenizes a text file: one document per line, or for a .jsonl file one JSON object per line with the
    /// document in <see cref="TextTokenOptions.TextField"/>. Empty lines are skipped.
    /// </summary>
    public static TokenSequences FromText(string path, TextTokenizer tokenizer, TextTokenOptions options)
    {
        if (options.Context < 2) throw new ArgumentOutOfRangeException(nameof(options), options.Context, "The context must be at least 2 tokens.");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: text file not found.", path);
        bool jsonl = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);
        int body = options.Context - (options.PrependBos ? 1 : 0);
        var ids = new List<long>();
        var stream = new List<long>();
        int rows = 0, lineNo = 0;
        bool Full() => options.MaxSequences is { } max && rows >= max;
        void AddRow(IEnumerable<long> tokens)
        {
            if (options.PrependBos) ids.Add(tokenizer.BeginningOfSentenceId);
            ids.AddRange(tokens);
            rows++;
        }

        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            lineNo++;
            if (Full()) break;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string doc = jsonl ? JsonText(path, lineNo, line, options.TextField) : line;
            var tokens = tokenizer.Encode(doc);
            if (options.Packing == TextPacking.Truncate)
            {
                if (tokens.Count >= body) AddRow(tokens.Take(body).Select(t => (long)t));
                continue;
            }
            if (stream.Count > 0 && tokenizer.EndOfSentenceId >= 0) stream.Add(tokenizer.EndOfSentenceId);
            stream.AddRange(tokens.Select(t => (long)t));
            int used = 0;
            while (stream.Count - used >= body && !Full())
            {
                AddRow(stream.GetRange(used, body));
                used += body;
            }
            stream.RemoveRange(0, used);
        }
        if (rows == 0)
            throw new InvalidDataException($"{path}: the text gives no sequence of {options.Context} tokens ({(options.Packing == TextPacking.Truncate ? "every document is shorter; try packing" : "too little text")}).");
        return new TokenSequences(ids.ToArray(), rows, options.Context, path, tokenizer);
    }

    static string JsonText(string path, int lineNo, string line, string field)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String)
                return v.GetString()!;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: line {lineNo} is not valid JSON: {e.Message}", e);
        }
        throw new InvalidDataException($"{path}: line {lineNo} has no string field '{field}' (a .jsonl file holds one object per line with the document in '{field}').");
    }

    /// <summary>
    /// Throws naming the source when an id is negative or outside the model's vocabulary of <paramref name="vocabulary"/>
    /// ids, or when the tokenizer can produce ids the model has no row for (not the model's tokenizer).
    /// </summary>
    public void CheckVocabulary(int vocabulary, string modelPath)
    {
        if (Tokenizer is { } tok && tok.VocabularySize > vocabulary)
            throw new InvalidDataException($"{tok.Path}: the tokenizer has {tok.VocabularySize} ids but the model {modelPath} has {vocabulary}: it is not this model's tokenizer.");
        for (long i = 0; i < Ids.Length; i++)
            if (Ids[i] < 0 || Ids[i] >= vocabulary)
                throw new InvalidDataException($"{Source}: sequence {i / Length}, position {i % Length}: token id {Ids[i]} is outside the model's vocabulary [0, {vocabulary}) ({modelPath}).");
    }
}
