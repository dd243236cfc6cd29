using System.Text;
using GbaEngine.Activations;

namespace GbaEngine.Cli.Runs;

/// <summary>
/// Token text aligned with activation rows (<see cref="TokenTextFile"/>), held in memory for the run
/// report's contexts: each row's sentence and piece, looked up by row.
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
        var sentence = new List<int>();
        var piece = new List<string>();
        foreach (var row in TokenTextFile.Read(path))
        {
            sentence.Add(row.Sentence);
            piece.Add(row.Piece);
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
        return (Join(lo, r), TokenTextFile.Display(_piece[r]), Join(r + 1, hi + 1));
    }

    string Join(int from, int to)
    {
        var sb = new StringBuilder();
        for (int i = from; i < to; i++) sb.Append(TokenTextFile.Display(_piece[i]));
        return sb.ToString();
    }
}
