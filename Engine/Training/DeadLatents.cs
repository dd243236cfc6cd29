using GbaEngine.Model;

namespace GbaEngine.Training;

/// <summary>
/// Tokens since each latent last fired, as sparsify keeps them (num_tokens_since_fired): after every step
/// each counter grows by the batch size and those of the latents in the step's code drop to 0. A latent
/// is dead when its counter exceeds the window N (<see cref="TrainerOptions.ResolvedDeadTokens"/>). AuxK
/// reads the dead list at the start of a step, resampling after it. The counters are checkpointed;
/// everything else here is derived from them.
/// </summary>
public sealed class DeadLatents
{
    readonly long[] _since;
    readonly int[] _dead;

    /// <summary>Counters at 0 for <paramref name="neurons"/> latents, dead after more than <paramref name="window"/> tokens without firing.</summary>
    public DeadLatents(int neurons, long window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _since = new long[neurons];
        _dead = new int[neurons];
        Window = window;
    }

    /// <summary>N: a latent is dead after more than this many tokens without firing.</summary>
    public long Window { get; }

    /// <summary>[M] tokens since each latent last fired (or since the start).</summary>
    public ReadOnlyMemory<long> TokensSinceFired => _since;

    /// <summary>The dead latents in ascending order, as of the last <see cref="Refresh"/>.</summary>
    public ReadOnlySpan<int> Dead => _dead.AsSpan(0, DeadCount);

    /// <summary>The same list as an array (valid entries: the first <see cref="DeadCount"/>).</summary>
    internal int[] DeadArray => _dead;

    /// <summary>How many latents were dead at the last <see cref="Refresh"/>.</summary>
    public int DeadCount { get; private set; }

    /// <summary>Rebuilds the dead list from the counters.</summary>
    public void Refresh()
    {
        int n = 0;
        for (int m = 0; m < _since.Length; m++)
            if (_since[m] > Window) _dead[n++] = m;
        DeadCount = n;
    }

    /// <summary>After a step on <paramref name="rows"/> tokens whose code is <paramref name="code"/>.</summary>
    public void Update(SparseCode code, int rows)
    {
        foreach (ref long s in _since.AsSpan()) s += rows;
        var index = code.Index;
        for (int r = 0; r < code.Count; r++) _since[index[r]] = 0;
    }

    /// <summary>Takes over counters from a checkpoint.</summary>
    public void Restore(ReadOnlySpan<long> since, string source)
    {
        if (since.Length != _since.Length)
            throw new InvalidDataException($"{source}: tensor tokens_since_fired has {since.Length} elements, this SAE needs {_since.Length}.");
        foreach (long s in since)
            if (s < 0) throw new InvalidDataException($"{source}: tokens_since_fired holds a negative count ({s}).");
        since.CopyTo(_since);
    }
}
