namespace GbaEngine.Encoders;

/// <summary>
/// One encoder thread's output for a batch. The SGEMM hands each thread a fixed part of Z (a range
/// of neurons, or of tokens when there are too few neurons to split), so everything here is written
/// by that thread alone and merged in lane order afterwards: no atomics, and a result that does not
/// depend on timing.
/// </summary>
internal sealed class EncoderLane
{
    public EncoderLane(int neurons, int batchCapacity, int k)
    {
        Count = new int[neurons];
        MaxY = new float[neurons];
        PerToken = new int[batchCapacity];
        Cursor = new int[batchCapacity];
        if (k > 0)
        {
            CandidateIndex = new int[batchCapacity * k];
            CandidateValue = new float[batchCapacity * k];
            CandidateCount = new int[batchCapacity];
            CandidateMin = new int[batchCapacity];
        }
    }

    /// <summary>[M] tokens on which each neuron fired (TopK: was selected), this lane's share.</summary>
    public readonly int[] Count;
    /// <summary>[M] largest y = z + b seen by this lane.</summary>
    public readonly float[] MaxY;

    // Threshold gates: emitted entries as (token, neuron, h) in the order the blocks arrived, which
    // for a fixed token is ascending neuron order (blocks come column panel by column panel).
    public int[] Token = new int[4096];
    public int[] Index = new int[4096];
    public float[] H = new float[4096];
    public int Entries;
    /// <summary>[B] entries this lane emitted per token.</summary>
    public readonly int[] PerToken;
    /// <summary>[B] where this lane's next entry of each token goes in the batch code.</summary>
    public readonly int[] Cursor;

    // TopK: per token, this lane's running selection (a TopKSelector's state saved between blocks).
    public readonly int[] CandidateIndex = [], CandidateCount = [], CandidateMin = [];
    public readonly float[] CandidateValue = [];

    // AuxK: per token, this lane's running selection among the dead latents (AuxKCapacity slots per token).
    public int[] AuxIndex = [], AuxCount = [], AuxMin = [];
    public float[] AuxValue = [];

    /// <summary>Room for a dead-latent selection of <paramref name="k"/> per token (allocated once, when AuxK is enabled).</summary>
    public void EnsureAux(int batchCapacity, int k)
    {
        if (AuxCount.Length >= batchCapacity && AuxIndex.Length >= batchCapacity * k) return;
        AuxIndex = new int[batchCapacity * k];
        AuxValue = new float[batchCapacity * k];
        AuxCount = new int[batchCapacity];
        AuxMin = new int[batchCapacity];
    }

    public void Reset(int tokens, bool topK, bool aux = false)
    {
        Array.Clear(Count);
        Array.Fill(MaxY, float.NegativeInfinity);
        Entries = 0;
        if (aux)
        {
            Array.Clear(AuxCount, 0, tokens);
            Array.Clear(AuxMin, 0, tokens);
        }
        if (topK)
        {
            Array.Clear(CandidateCount, 0, tokens);
            Array.Clear(CandidateMin, 0, tokens);
        }
        else
        {
            Array.Clear(PerToken, 0, tokens);
        }
    }

    /// <summary>Room for <paramref name="more"/> further entries (grows during warm-up only).</summary>
    public void EnsureRoom(int more)
    {
        int needed = Entries + more;
        if (Index.Length >= needed) return;
        int cap = Math.Max(needed, Index.Length * 2);
        Array.Resize(ref Token, cap);
        Array.Resize(ref Index, cap);
        Array.Resize(ref H, cap);
    }
}
