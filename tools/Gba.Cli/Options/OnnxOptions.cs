using GbaEngine.Onnx.Tokens;

namespace GbaEngine.Cli.Options;

/// <summary>
/// The options `gba harvest` and `gba eval --model` share, declared once: the ONNX model, sequences per run, and
/// the token rows it runs on: --token-ids IDS.npy, or --text FILE with --tokenizer PATH and the row options
/// (--context, --prepend-bos, --truncate, --text-field), and --max-sequences for either (read by <see cref="ReadTokens"/>).
/// </summary>
public static class OnnxOptions
{
    const string Group = "Tokens";

    /// <summary>--model M.onnx.</summary>
    public static readonly OptionSpec Model = OptionSpec.Valued("model", "Model", "M.onnx",
        "an ONNX language model taking token ids (torch.onnx.export or Hugging Face Optimum), run with ONNX Runtime");
    /// <summary>--batch N: sequences per model run.</summary>
    public static readonly OptionSpec Batch = OptionSpec.Valued("batch", "Model", "N", "sequences per model run (default 8); memory holds one batch's tensors") with { Min = 1 };

    /// <summary>--token-ids IDS.npy.</summary>
    public static readonly OptionSpec TokenIds = OptionSpec.Valued("token-ids", Group, "IDS.npy", "token ids, int32/int64 [sequences, tokens] (np.save); one row per sequence");
    /// <summary>--text FILE.</summary>
    public static readonly OptionSpec Text = OptionSpec.Valued("text", Group, "FILE", "documents, one per line (or a .jsonl file with a \"text\" field: --text-field NAME)");
    /// <summary>--tokenizer PATH.</summary>
    public static readonly OptionSpec Tokenizer = OptionSpec.Valued("tokenizer", Group, "PATH",
        "a SentencePiece model (*.model), read with Microsoft.ML.Tokenizers; with --token-ids it\nonly names the pieces in tokens.tsv");
    /// <summary>--context T.</summary>
    public static readonly OptionSpec Context = OptionSpec.Valued("context", Group, "T", "tokens per sequence for --text (default 128)") with { Min = 2 };
    /// <summary>--prepend-bos.</summary>
    public static readonly OptionSpec PrependBos = OptionSpec.Switch("prepend-bos", Group, "start every sequence with the tokenizer's BOS id");
    /// <summary>--truncate.</summary>
    public static readonly OptionSpec Truncate = OptionSpec.Switch("truncate", Group,
        "one sequence per document (its first T tokens; shorter documents are skipped) instead\nof packing the documents, separated by EOS, into sequences of T tokens");
    /// <summary>--text-field NAME.</summary>
    public static readonly OptionSpec TextField = OptionSpec.Valued("text-field", Group, "NAME", "the field holding a document in a .jsonl file (default text)");
    /// <summary>--max-sequences N.</summary>
    public static readonly OptionSpec MaxSequences = OptionSpec.Valued("max-sequences", Group, "N", "use the first N sequences only") with { Min = 1 };

    /// <summary>Every token option, in help order.</summary>
    public static readonly IReadOnlyList<OptionSpec> Tokens = [TokenIds, Text, Tokenizer, Context, PrependBos, Truncate, TextField, MaxSequences];

    /// <summary>--batch, 8 by default.</summary>
    public static int ReadBatch(OptionReader o) => o.Int(Batch.Flag, 8);

    /// <summary>The token rows the options name.</summary>
    public static TokenSequences ReadTokens(OptionReader o)
    {
        string? idsPath = o.String(TokenIds.Flag), textPath = o.String(Text.Flag), tokenizerPath = o.String(Tokenizer.Flag);
        if ((idsPath is null) == (textPath is null)) throw new UsageException("give the tokens as --token-ids IDS.npy or as --text FILE --tokenizer PATH (one of the two)");
        int? max = o.Has(MaxSequences.Flag) ? o.Int(MaxSequences.Flag, 0) : null;
        if (idsPath is not null)
        {
            o.Reject([Context.Flag, PrependBos.Flag, Truncate.Flag, TextField.Flag], "shapes --text input; --token-ids rows are used as they are");
            var tokenizer = tokenizerPath is null ? null : TextTokenizer.Load(tokenizerPath);
            var ids = TokenSequences.FromNpy(idsPath, tokenizer);
            return max is { } m && m < ids.Rows ? TokenSequences.FromIds(ids.Ids[..(m * ids.Length)], m, ids.Length, ids.Source, tokenizer) : ids;
        }
        if (tokenizerPath is null) throw new UsageException("--text needs --tokenizer PATH (a SentencePiece *.model)");
        int context = o.Int(Context.Flag, 128);
        return TokenSequences.FromText(textPath!, TextTokenizer.Load(tokenizerPath), new TextTokenOptions(context, o.Flag(PrependBos.Flag),
            o.Flag(Truncate.Flag) ? TextPacking.Truncate : TextPacking.Pack, o.String(TextField.Flag) ?? "text", max));
    }
}
