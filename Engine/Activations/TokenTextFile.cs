using System.Globalization;
using System.Text;

namespace GbaEngine.Activations;

/// <summary>One activation row's token: the sentence (sample) it belongs to and its text piece.</summary>
/// <param name="Sentence">The row's sentence id as the file gives it.</param>
/// <param name="Piece">The token as the tokenizer wrote it (SentencePiece marks a word start with '▁').</param>
public readonly record struct TokenTextRow(int Sentence, string Piece)
{
    /// <summary>The piece as text: SentencePiece's word-start mark '▁' shown as a space.</summary>
    public string Text => TokenTextFile.Display(Piece);
}

/// <summary>
/// Token text aligned with activation rows: a TSV whose header names at least the columns sentence and
/// piece (../shared/data/*.tokens.tsv, `gba harvest`'s tokens.tsv; other columns such as row, position and
/// token_id are ignored), one line per activation row in dataset order. Read as a stream, so a corpus of
/// any length takes no memory; a missing column, a line with the wrong number of fields or a sentence that
/// is not an integer is one <see cref="InvalidDataException"/> naming the file and the line.
/// </summary>
public static class TokenTextFile
{
    /// <summary>The rows of <paramref name="path"/>, in order (lazily: the file is read as they are enumerated).</summary>
    public static IEnumerable<TokenTextRow> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: token text file not found.", path);
        return Rows(path);
    }

    static IEnumerable<TokenTextRow> Rows(string path)
    {
        using var r = new StreamReader(path, Encoding.UTF8);
        var header = (r.ReadLine() ?? throw new InvalidDataException($"{path}: empty file, expected a TSV header with sentence and piece columns.")).Split('\t');
        int cs = Array.IndexOf(header, "sentence"), cp = Array.IndexOf(header, "piece");
        if (cs < 0 || cp < 0) throw new InvalidDataException($"{path}: the header must name 'sentence' and 'piece' columns (found: {string.Join(", ", header)}).");
        string? line;
        long lineNo = 1;
        while ((line = r.ReadLine()) != null)
        {
            lineNo++;
            if (line.Length == 0) continue;
            var f = line.Split('\t');
            if (f.Length != header.Length)
                throw new InvalidDataException($"{path}: line {lineNo} has {f.Length} columns, the header {header.Length}.");
            if (!int.TryParse(f[cs], NumberStyles.Integer, CultureInfo.InvariantCulture, out int s))
                throw new InvalidDataException($"{path}: line {lineNo}: sentence '{f[cs]}' is not an integer.");
            yield return new TokenTextRow(s, f[cp]);
        }
    }

    /// <summary>A piece as text: SentencePiece's word-start mark '▁' shown as a space.</summary>
    public static string Display(string piece) => piece.Replace('\u2581', ' ');
}
