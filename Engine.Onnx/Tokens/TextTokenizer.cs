using Microsoft.ML.Tokenizers;

namespace GbaEngine.Onnx.Tokens;

/// <summary>
/// A tokenizer file read with Microsoft.ML.Tokenizers. Supported: a SentencePiece model (`*.model`, BPE or
/// Unigram, as Llama, T5, Gemma and sentencepiece's own trainer write it). Encoding adds no BOS/EOS itself:
/// <see cref="TokenSequences.FromText"/> places them, so a harvest's rows are the same whatever the tokenizer's
/// defaults.
/// </summary>
public sealed class TextTokenizer
{
    readonly SentencePieceTokenizer _tokenizer;
    readonly string[] _pieces;

    TextTokenizer(string path, SentencePieceTokenizer tokenizer)
    {
        Path = path;
        _tokenizer = tokenizer;
        int size = tokenizer.Vocabulary.Count == 0 ? 0 : tokenizer.Vocabulary.Values.Max() + 1;
        _pieces = new string[size];
        foreach (var (piece, id) in tokenizer.Vocabulary) _pieces[id] = piece;
    }

    /// <summary>The tokenizer file.</summary>
    public string Path { get; }

    /// <summary>Number of ids the tokenizer can produce (its largest id + 1).</summary>
    public int VocabularySize => _pieces.Length;

    /// <summary>The beginning-of-sequence id.</summary>
    public int BeginningOfSentenceId => _tokenizer.BeginningOfSentenceId;

    /// <summary>The end-of-sequence id.</summary>
    public int EndOfSentenceId => _tokenizer.EndOfSentenceId;

    /// <summary>Loads a tokenizer file; throws naming the file when it is missing, unsupported or unreadable.</summary>
    public static TextTokenizer Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: tokenizer file not found.", path);
        if (!path.EndsWith(".model", StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{path}: unsupported tokenizer file: expected a SentencePiece model (*.model).");
        try
        {
            using var stream = File.OpenRead(path);
            return new TextTokenizer(path, SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false));
        }
        catch (Exception e) when (e is not IOException)
        {
            throw new InvalidDataException($"{path}: not a readable SentencePiece model: {e.Message}", e);
        }
    }

    /// <summary>The ids of <paramref name="text"/>, without BOS or EOS.</summary>
    public IReadOnlyList<int> Encode(string text) => _tokenizer.EncodeToIds(text);

    /// <summary>The piece an id stands for ("▁the"), or the id in brackets when it has none.</summary>
    public string Piece(long id) => id >= 0 && id < _pieces.Length && _pieces[id] is { } p ? p : $"[{id}]";
}
