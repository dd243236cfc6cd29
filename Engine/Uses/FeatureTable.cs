using GbaEngine.Activations;

namespace GbaEngine.Uses;

/// <summary>A token window around an activation, within the token's sentence.</summary>
/// <param name="Sentence">The sentence (sample) id of the token text.</param>
/// <param name="Tokens">The window's tokens as text (SentencePiece's '▁' shown as a space).</param>
/// <param name="FiringIndex">Position of the activating token in <paramref name="Tokens"/>.</param>
public sealed record TokenContext(int Sentence, IReadOnlyList<string> Tokens, int FiringIndex);

/// <summary>One activation of a feature: the corpus token (row) and the value.</summary>
/// <param name="Row">The token's row in the corpus (activation files in order).</param>
/// <param name="Value">The feature's activation there.</param>
/// <param name="Quantile">For a quantile example, the quantile of the feature's activations it sits at; otherwise null.</param>
public sealed record FeatureExample(long Row, float Value, double? Quantile = null)
{
    /// <summary>The token window, once <see cref="FeatureTable.AttachContexts(string, int)"/> has run.</summary>
    public TokenContext? Context { get; set; }
}

/// <summary>A feature's statistics over the whole corpus.</summary>
/// <param name="Index">The feature (dictionary row).</param>
/// <param name="Fires">Tokens on which it is active.</param>
/// <param name="Frequency">Fires / corpus tokens.</param>
/// <param name="Max">Its largest activation (0 if it never fires).</param>
/// <param name="Mean">Its mean activation over the tokens on which it fires.</param>
/// <param name="Top">The strongest activations, strongest first (ties: earlier token first).</param>
/// <param name="Quantiles">Examples at quantiles (j + 0.5) / Q of its activations, weakest first (Q = min(Quantiles, firings)).</param>
public sealed record FeatureSummary(int Index, long Fires, double Frequency, float Max, double Mean,
    IReadOnlyList<FeatureExample> Top, IReadOnlyList<FeatureExample> Quantiles);

/// <summary>
/// What every feature of an SAE does over a corpus (<see cref="FeatureTableBuilder"/>): frequency, maximum and
/// mean activation, top activations and quantile examples, and the corpus-wide histogram of log10 feature
/// frequencies (bins as <see cref="Evaluation.EvaluationMetrics.FrequencyHistogram"/>).
/// </summary>
public sealed class FeatureTable
{
    internal FeatureTable(long tokens, IReadOnlyList<FeatureSummary> features, FeatureTableOptions options, int[] histogram)
    {
        Tokens = tokens;
        Features = features;
        Options = options;
        FrequencyHistogram = histogram;
    }

    /// <summary>Corpus tokens.</summary>
    public long Tokens { get; }

    /// <summary>Every feature, by index.</summary>
    public IReadOnlyList<FeatureSummary> Features { get; }

    /// <summary>The settings the table was built with.</summary>
    public FeatureTableOptions Options { get; }

    /// <summary>Features per log10-frequency bin (bin b covers [−7 + b/2, −7 + (b+1)/2)); dead features are left out.</summary>
    public IReadOnlyList<int> FrequencyHistogram { get; }

    /// <summary>Features that never fired.</summary>
    public int Dead => Features.Count(f => f.Fires == 0);

    /// <summary>
    /// Reads the token text of the corpus (<see cref="TokenTextFile"/>, one line per row in corpus order) once
    /// and gives every example its window of up to <paramref name="window"/> tokens each side within its
    /// sentence. Only a ring of 2·window + 1 rows is held. Returns the number of token rows in the file;
    /// a file with fewer rows than the corpus is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public long AttachContexts(string tokenTextPath, int window)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(window);
        var wanted = new Dictionary<long, List<FeatureExample>>();
        foreach (var f in Features)
            foreach (var e in f.Top.Concat(f.Quantiles))
            {
                if (!wanted.TryGetValue(e.Row, out var list)) wanted[e.Row] = list = [];
                list.Add(e);
            }
        int ring = 2 * window + 1;
        var sentence = new int[ring];
        var text = new string[ring];
        long rows = 0;
        foreach (var t in TokenTextFile.Read(tokenTextPath))
        {
            sentence[rows % ring] = t.Sentence;
            text[rows % ring] = t.Text;
            rows++;
            // Row rows-1-window now has its full window after it.
            long ready = rows - 1 - window;
            if (ready >= 0) Attach(ready, rows - 1);
        }
        for (long r = Math.Max(0, rows - window); r < rows; r++) Attach(r, rows - 1);
        if (rows < Tokens)
            throw new InvalidDataException($"{tokenTextPath}: {rows} token rows, but the corpus has {Tokens} (they must align row by row).");
        return rows;

        void Attach(long row, long last)
        {
            if (!wanted.Remove(row, out var examples)) return;
            int s = sentence[row % ring];
            long lo = row, hi = row;
            while (lo > 0 && row - lo < window && sentence[(lo - 1) % ring] == s) lo--;
            while (hi < last && hi - row < window && sentence[(hi + 1) % ring] == s) hi++;
            var tokens = new string[hi - lo + 1];
            for (long i = lo; i <= hi; i++) tokens[i - lo] = text[i % ring];
            var context = new TokenContext(s, tokens, (int)(row - lo));
            foreach (var e in examples) e.Context = context;
        }
    }
}
