using GbaEngine.Activations;
using GbaEngine.Formats;

namespace GbaEngine.Evaluation;

/// <summary>
/// Reads a matrix of true features V [n × d] (one feature per row; .npy or .safetensors, any dtype the
/// loader reads) so feature recovery can be measured on any data whose generating features are known,
/// not only on the built-in generator. Rows need not be unit norm (cosines are scale-free) but must be
/// finite and non-zero.
/// </summary>
public static class GroundTruth
{
    /// <summary>Loads V and checks it against the data's width.</summary>
    /// <param name="path">A 2-D .npy or .safetensors file [n, d].</param>
    /// <param name="dim">d of the activations the SAE is trained on.</param>
    /// <param name="tensorName">The safetensors tensor to read (null: the only one).</param>
    /// <returns>[n × d] row-major floats.</returns>
    /// <exception cref="InvalidDataException">The shape does not match d, or a row is zero or not finite.</exception>
    /// <exception cref="ActivationFormatException">The file cannot be read as a .npy/.safetensors matrix.</exception>
    public static float[] Load(string path, int dim, string? tensorName = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: ground-truth file not found.", path);
        using var shard = ActivationShard.Open(path, new LoaderOptions { TensorName = tensorName });
        if (shard.Format == ShardFormat.Raw)
            throw new InvalidDataException($"{path}: ground truth must be a .npy or .safetensors matrix [n, d], not raw binary.");
        if (shard.Shape.Count != 2)
            throw new InvalidDataException($"{path}: ground truth has shape {TokenShape.Format(shard.Shape)}: expected a 2-D matrix [n, d] of true features.");
        if (shard.Dim != dim)
            throw new InvalidDataException($"{path}: ground truth has shape {TokenShape.Format(shard.Shape)}, so d = {shard.Dim}, but the activations have d = {dim}.");
        if (shard.Rows < 1)
            throw new InvalidDataException($"{path}: ground truth holds no features (shape {TokenShape.Format(shard.Shape)}).");
        if (shard.Rows * (long)dim > Array.MaxLength)
            throw new InvalidDataException($"{path}: ground truth of {shard.Rows} x {dim} is too large to hold in memory.");
        int n = (int)shard.Rows;
        var v = new float[(long)n * dim];
        shard.ReadRows(0, n, v);
        for (int i = 0; i < n; i++)
        {
            double n2 = 0;
            for (int j = 0; j < dim; j++)
            {
                float x = v[(long)i * dim + j];
                if (!float.IsFinite(x)) throw new InvalidDataException($"{path}: ground-truth feature {i} has a non-finite value ({x}) at column {j}.");
                n2 += (double)x * x;
            }
            if (n2 == 0) throw new InvalidDataException($"{path}: ground-truth feature {i} is the zero vector (it has no direction to recover).");
        }
        return v;
    }
}
