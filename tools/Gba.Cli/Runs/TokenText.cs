using System.Globalization;
using System.Text;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// Token text aligned with activation rows: a TSV with a header naming at least the columns
/// sentence, position and piece (../shared/data/*.tokens.tsv), one line per activation row in dataset
/// order. SentencePiece's word-start mark '▁' is shown as a space.
/// </summary>
public sealed class TokenText
{
    readonly int[] _sentence;
    readonly string[] _piece;

    TokenText(string path, int[] sentence, string[] piece) { Path = path; _sentence = sentence; _piece = piece; }

    public string Path { get; }
    public int Count => _piece.Length;

    public static TokenText Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: token text file not found.");
        using var r = new StreamReader(path, Encoding.UTF8);
        var header = (r.ReadLine() ?? throw new InvalidDataException($"{path}: empty file, expected a TSV header with sentence, position and piece columns.")).Split('\t');
        int cs = Array.IndexOf(header, "sentence"), cp = Array.IndexOf(header, "piece");
        if (cs < 0 || cp < 0) throw new InvalidDataException($"{path}: the header must name 'sentence' and 'piece' columns (found: {string.Join(", ", header)}).");
        var sentence = new List<int>();
        var piece = new List<string>();
        string? line;
        int lineNo = 1;
        while ((line = r.ReadLine()) != null)
        {
            lineNo++;
            if (line.Length == 0) continue;
            var f = line.Split('\t');
            if (f.Length != header.Length)
                throw new InvalidDataException($"{path}: line {lineNo} has {f.Length} columns, the header {header.Length}.");
            if (!int.TryParse(f[cs], NumberStyles.Integer, CultureInfo.InvariantCulture, out int s))
                throw new InvalidDataException($"{path}: line {lineNo}: sentence '{f[cs]}' is not an integer.");
            sentence.Add(s);
            piece.Add(f[cp]);
        }
        return new TokenText(path, sentence.ToArray(), piece.ToArray());
    }

    /// <summary>The token at <paramref name="row"/> with up to <paramref name="window"/> tokens of the same sentence either side.</summary>
    public (string Before, string Token, string After) Context(long row, int window)
    {
        int r = checked((int)row);
        int lo = r, hi = r;
        while (lo > 0 && r - lo < window && _sentence[lo - 1] == _sentence[r]) lo--;
        while (hi + 1 < Count && hi - r < window && _sentence[hi + 1] == _sentence[r]) hi++;
        return (Join(lo, r), Show(_piece[r]), Join(r + 1, hi + 1));
    }

    string Join(int from, int to)
    {
        var sb = new StringBuilder();
        for (int i = from; i < to; i++) sb.Append(Show(_piece[i]));
        return sb.ToString();
    }

    static string Show(string piece) => piece.Replace('\u2581', ' ');
}
