using GbaEngine.Onnx.Runtime;
using GbaEngine.Onnx.Tokens;
using GbaEngine.Streams;

namespace GbaEngine.Onnx.Evaluation;

/// <summary>
/// A hook's activations as a token stream: the model runs over the token rows a batch of sequences at a time and
/// the hook's rows come out sequence-major (the order a harvest writes them), looping at the end as streams do.
/// It lets the engine's one <see cref="GbaEngine.Evaluation.Evaluator"/> measure an SAE at the hook with the
/// definitions `gba eval --data` uses, without holding the hook's activations in memory.
/// </summary>
internal sealed class HookStream(TokenModelSession session, int output, TokenSequences tokens, int batch, int dim) : ITokenStream
{
    float[] _rows = [];
    int _have, _next, _nextSequence;

    public int Dim => dim;

    public long Position { get; private set; }

    public string Describe() => $"'{session.OutputNames[output]}' of {session.Path} over {tokens.Source}";

    public void NextBatch(Span<float> destination, int rows)
    {
        for (int r = 0; r < rows;)
        {
            if (_next == _have) Fill();
            int n = Math.Min(rows - r, _have - _next);
            _rows.AsSpan(_next * dim, n * dim).CopyTo(destination.Slice(r * dim, n * dim));
            r += n;
            _next += n;
        }
        Position += rows;
    }

    void Fill()
    {
        int T = tokens.Length, sequences = Math.Min(batch, tokens.Rows - _nextSequence);
        using var result = session.Run(tokens.Ids.AsSpan(_nextSequence * T, sequences * T), sequences, T);
        int d = result.TokenWidth(output, sequences, T);
        if (d != dim) throw new InvalidDataException($"{session.Path}: '{session.OutputNames[output]}' has d = {d} in one batch and {dim} in another.");
        var values = result.Floats(output);
        if (_rows.Length < values.Length) _rows = new float[values.Length];
        values.CopyTo(_rows);
        _have = sequences * T;
        _next = 0;
        _nextSequence = (_nextSequence + sequences) % tokens.Rows;
    }

    public void Dispose() { }
}
