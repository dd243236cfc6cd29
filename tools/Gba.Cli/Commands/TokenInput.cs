using GbaEngine.Onnx.Tokens;

using GbaEngine.Cli.Options;

namespace GbaEngine.Cli.Commands;

/// <summary>
/// The token options `gba harvest` and `gba eval --model` share: --token-ids IDS.npy, or --text FILE with
/// --tokenizer PATH and the row options (--context, --prepend-bos, --truncate, --text-field), and --max-sequences.
/// </summary>
static class TokenInput
{
    public static readonly string[] ValueOptions = ["--token-ids", "--text", "--tokenizer", "--context", "--text-field", "--max-sequences"];
    public static readonly string[] Flags = ["--prepend-bos", "--truncate"];

    public const string Help = """
          --token-ids IDS.npy  token ids, int32/int64 [sequences, tokens] (np.save); one row per sequence
          --text FILE          documents, one per line (or a .jsonl file with a "text" field: --text-field NAME)
          --tokenizer PATH     a SentencePiece model (*.model), read with Microsoft.ML.Tokenizers; with --token-ids it
                               only names the pieces in tokens.tsv
          --context T          tokens per sequence for --text (default 128)
          --prepend-bos        start every sequence with the tokenizer's BOS id
          --truncate           one sequence per document (its first T tokens; shorter documents are skipped) instead
                               of packing the documents, separated by EOS, into sequences of T tokens
          --max-sequences N    use the first N sequences only
        """;

    public static TokenSequences Read(OptionReader o)
    {
        string? idsPath = o.String("--token-ids"), textPath = o.String("--text"), tokenizerPath = o.String("--tokenizer");
        if ((idsPath is null) == (textPath is null)) throw new UsageException("give the tokens as --token-ids IDS.npy or as --text FILE --tokenizer PATH (one of the two)");
        int? max = o.Has("--max-sequences") ? o.Int("--max-sequences", 0) : null;
        if (max < 1) throw new UsageException($"--max-sequences {max}: expected at least 1");
        var tokenizer = tokenizerPath is null ? null : TextTokenizer.Load(tokenizerPath);
        if (idsPath is not null)
        {
            foreach (var textOnly in new[] { "--context", "--prepend-bos", "--truncate", "--text-field" })
                if (o.Has(textOnly)) throw new UsageException($"{textOnly} shapes --text input; --token-ids rows are used as they are");
            var ids = TokenSequences.FromNpy(idsPath, tokenizer);
            return max is { } m && m < ids.Rows ? TokenSequences.FromIds(ids.Ids[..(m * ids.Length)], m, ids.Length, ids.Source, tokenizer) : ids;
        }
        if (tokenizer is null) throw new UsageException("--text needs --tokenizer PATH (a SentencePiece *.model)");
        int context = o.Int("--context", 128);
        if (context < 2) throw new UsageException($"--context {context}: expected at least 2");
        return TokenSequences.FromText(textPath!, tokenizer, new TextTokenOptions(context, o.Flag("--prepend-bos"),
            o.Flag("--truncate") ? TextPacking.Truncate : TextPacking.Pack, o.String("--text-field") ?? "text", max));
    }
}
