using GbaEngine.Collectives;
using GbaEngine.Kernels.Elementwise;
using GbaEngine.Model;

namespace GbaEngine.Training;

/// <summary>
/// TopK over neuron shards (docs/distributed.md): each rank encodes its own neurons with the local top k per
/// token, whose union over ranks holds the global top k, so the merge is exact. The ranks allgather their
/// candidates, B·k (value, global index) pairs each; every rank re-offers all of them to one selector in
/// ascending global index (rank order, then each token's ascending order), so ties resolve exactly as one
/// pass over the whole row does, and keeps the selected entries it owns. Allocates nothing per call.
/// </summary>
internal sealed class ShardedTopK
{
    readonly Communicator _comm;
    readonly NeuronShard _shard;
    readonly int _k;
    readonly ValueIndex[] _mine, _all;
    readonly int[] _selectIndex, _emitIndex;
    readonly float[] _selectValue, _emitValue;

    /// <param name="k">The global k; each rank's encoder selects min(k, its neurons) per token.</param>
    public ShardedTopK(Communicator comm, NeuronShard shard, int k, int batchCapacity)
    {
        (_comm, _shard, _k) = (comm, shard, k);
        _mine = new ValueIndex[(long)batchCapacity * k];
        _all = new ValueIndex[(long)batchCapacity * k * comm.Size];
        (_selectIndex, _emitIndex, _selectValue, _emitValue) = (new int[k], new int[k], new float[k], new float[k]);
    }

    /// <summary>Replaces this rank's local top-k <paramref name="code"/> (local neuron indices) by its share of the global top k.</summary>
    public void Merge(SparseCode code, int rows)
    {
        int k = _k, first = _shard.First, ranks = _comm.Size;
        var mine = _mine.AsSpan(0, rows * k);
        mine.Fill(new ValueIndex(float.NegativeInfinity, int.MaxValue));   // empty slots, never selected
        for (int t = 0; t < rows; t++)
        {
            int r0 = code.RowStart[t], n = code.RowStart[t + 1] - r0;
            for (int j = 0; j < n; j++) mine[t * k + j] = new ValueIndex(code.H[r0 + j], code.Index[r0 + j] + first);
        }
        var all = _all.AsSpan(0, ranks * rows * k);
        _comm.AllGather<ValueIndex>(mine, all);

        // Each token keeps at most the entries it had (its owned part of the global top k is a subset of its
        // local top k), so the code is rewritten in place from the front.
        int offset = 0;
        for (int t = 0; t < rows; t++)
        {
            code.RowStart[t] = offset;
            var select = new TopKSelector(k, _selectIndex, _selectValue);
            for (int r = 0; r < ranks; r++)
            {
                var block = all.Slice((r * rows + t) * k, k);
                foreach (var c in block) select.Offer(c.Index, c.Value);
            }
            int count = select.Emit(_emitIndex, _emitValue);
            for (int j = 0; j < count; j++)
            {
                if (!_shard.Owns(_emitIndex[j])) continue;
                code.Index[offset] = _emitIndex[j] - first;
                code.H[offset] = _emitValue[j];
                offset++;
            }
        }
        code.RowStart[rows] = offset;
    }
}
