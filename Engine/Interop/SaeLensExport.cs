using System.Text.Json.Nodes;
using GbaEngine.Model;
using GbaEngine.Formats;

namespace GbaEngine.Interop;

/// <summary>
/// Exports an SAE in the SAELens 6 layout (spec/formats.md): a directory with cfg.json and
/// sae_weights.safetensors holding W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in]
/// and, for JumpReLU, threshold [d_sae]; SAELens' <c>SAE.load_from_disk</c> reads it as is.
/// Input normalisation is folded into the weights:
/// <list type="bullet">
/// <item>dataset scale s (x̃ = s·x): z = s·u·(x − b_pre/s), hence W_enc = s·u, b_dec = b_pre/s, and since
/// the output f = a·h lives in the scaled space, W_dec rows = a_m·w_m / s; normalize_activations "none".</item>
/// <item>per-token unit norm (x̃ = x/‖x‖): SAELens' "constant_norm_rescale" feeds x' = √d·x̃, so
/// W_enc = u/√d, b_dec = √d·b_pre, W_dec rows = √d·a_m·w_m (its output step divides by √d/‖x‖).</item>
/// </list>
/// JumpReLU: b_enc = 0 and threshold = −b, so SAELens' f = z·1[z &gt; threshold] reproduces 1[z + b &gt; 0]
/// exactly (b ≤ 0 for GBA and BA, so the threshold is never negative). ReLU ("standard") and TopK
/// ("topk", with k) keep b as b_enc. A ReLU with a firing threshold θ (BatchTopK's inference form,
/// h = y·1[y &gt; θ]) is "jumprelu" with b_enc = b and threshold = θ on every neuron.
/// <para>
/// Decoder norms are then folded as SAELens' <c>fold_W_dec_norm</c> does, for "standard" and "jumprelu":
/// with n_m = ‖W_dec,m‖, W_dec,m /= n_m, W_enc[:, m] *= n_m, b_enc,m *= n_m, threshold_m *= n_m. Every
/// gate is positively homogeneous (relu(n·p) = n·relu(p), n·p &gt; n·θ ⇔ p &gt; θ), so the same features fire,
/// each value is n_m times the unfolded one and the reconstruction is unchanged; decoder rows are unit
/// norm and a feature's value is its contribution along that row in activation units. A zero row
/// (a_m = 0: the feature never contributes) is left as is. TopK is not folded: it keeps the k largest
/// pre-activations before a_m scales them, so multiplying each pre-activation by its own n_m would
/// change which k are kept (SAELens' TopKSAE.fold_W_dec_norm refuses for the same reason). cfg.json's
/// "gba_engine.decoder_norms" says which was done.
/// </para>
/// <para>
/// An MP-SAE is written in SAELens' "matching_pursuit" layout (W_dec, b_dec; tied): W_dec rows are the
/// unit atoms, b_dec the centring bias mapped as above, and the stopping rule is fixed to the engine's
/// (max_iterations = the trained step count T, no residual threshold, no stop on a repeated atom), so
/// SAELens releases whose MatchingPursuitSAEConfig has stop_on_duplicate_support run the same pursuit;
/// its features are the engine's coefficients times 1/s (or √d), as for the other layouts.
/// </para>
/// Our extras (method, groups, TAFs, scale) go under cfg.json's "gba_engine" key, which SAELens ignores.
/// </summary>
public static class SaeLensExport
{
    /// <summary>File names of the SAELens layout.</summary>
    public const string WeightsFile = "sae_weights.safetensors", ConfigFile = "cfg.json";

    /// <summary>The SAELens config format the file follows: cfg.json with a "metadata" block (SAELens ≥ 6.0 reads it as
    /// such; without a version it would rebuild the metadata from top-level keys and drop the rest).</summary>
    public const string SaeLensFormatVersion = "6.0.0";

    /// <summary>SAELens' architecture name of an MP-SAE (<c>MatchingPursuitSAEConfig.architecture()</c>).</summary>
    public const string MatchingPursuitArchitecture = "matching_pursuit";

    /// <summary>Why a TopK export keeps its decoder norms (written to cfg.json).</summary>
    const string TopKNotFolded = "not folded: TopK keeps the k largest pre-activations before the output scale a_m multiplies them, " +
                                 "so scaling each pre-activation by its decoder norm would change which k are kept";

    /// <summary>
    /// Maps the GBA parameterisation to SAELens tensors (see the class summary for the algebra), decoder norms
    /// folded unless the SAE is TopK. Not for MP-SAEs, which have no one-pass encoder.
    /// </summary>
    internal static SaeWeights Tensors(SparseAutoencoder sae)
    {
        var p = sae.Parameters;
        var arch = sae.Architecture;
        if (arch.Sparsity == SparsityMode.MatchingPursuit) throw new NotSupportedException("A matching-pursuit SAE has no one-pass encoder.");
        int d = arch.Dim, m = arch.Neurons;
        bool perToken = sae.Normalization == InputNormalization.PerToken;
        float ge = EncoderFactor(sae), gd = DecoderFactor(sae);
        bool jump = arch.Sparsity == SparsityMode.Threshold && arch.Gate == SaeActivation.JumpRelu;
        bool reluThreshold = arch.ReluThreshold > 0;
        var wEnc = new float[(long)m * d];
        var wDec = new float[(long)m * d];
        var bEnc = new float[m];
        var threshold = jump || reluThreshold ? new float[m] : null;
        var bDec = new float[d];
        for (int n = 0; n < m; n++)
        {
            var u = p.EncoderRow(n);
            var w = p.DecoderRow(n);
            float a = p.Scale[n];
            for (int j = 0; j < d; j++)
            {
                wEnc[(long)n * d + j] = ge * u[j];
                wDec[(long)n * d + j] = perToken ? gd * a * w[j] : a * w[j] / sae.InputScale;
            }
            if (jump) threshold![n] = -p.Bias[n];
            else bEnc[n] = p.Bias[n];
            if (reluThreshold) threshold![n] = arch.ReluThreshold;
        }
        for (int j = 0; j < d; j++) bDec[j] = perToken ? gd * p.PreBias[j] : p.PreBias[j] / sae.InputScale;
        var activation = arch.Sparsity == SparsityMode.TopK ? SaeActivation.TopK : jump || reluThreshold ? SaeActivation.JumpRelu : SaeActivation.Relu;
        var weights = new SaeWeights(d, m, wEnc, bEnc, wDec, bDec, activation, threshold ?? [], arch.Sparsity == SparsityMode.TopK ? arch.K : 0,
            ApplyDecoderBiasToInput: true, perToken ? InputNormalization.PerToken : InputNormalization.None);
        if (activation != SaeActivation.TopK) FoldDecoderNorms(weights);
        return weights;
    }

    /// <summary>W_enc = ge·u: s for a dataset scale, 1/√d per token (SAELens' rescaled input has norm √d).</summary>
    static float EncoderFactor(SparseAutoencoder sae) =>
        sae.Normalization == InputNormalization.PerToken ? 1f / MathF.Sqrt(sae.Dim) : sae.InputScale;

    /// <summary>W_dec = gd·a·w, b_dec = gd·b_pre: 1/s for a dataset scale, √d per token.</summary>
    static float DecoderFactor(SparseAutoencoder sae) =>
        sae.Normalization == InputNormalization.PerToken ? MathF.Sqrt(sae.Dim) : 1f / sae.InputScale;

    /// <summary>
    /// What the matching-pursuit encoder's coefficients z are multiplied by in the exported layout's units:
    /// the pursuit is positively homogeneous and SAELens runs it on x − b_pre/s (or √d·(x̃ − b_pre)), so its
    /// features are z/s (or √d·z).
    /// </summary>
    public static float MatchingPursuitFeatureScale(SparseAutoencoder sae)
    {
        if (sae.Architecture.Sparsity != SparsityMode.MatchingPursuit)
            throw new ArgumentException($"Only a matching-pursuit SAE has pursuit coefficients (this one is {sae.Architecture.Sparsity}).", nameof(sae));
        return DecoderFactor(sae);
    }

    /// <summary>SAELens' fold_W_dec_norm on weights in the inference layout (see the class summary).</summary>
    static void FoldDecoderNorms(SaeWeights w)
    {
        int d = w.Dim;
        for (int n = 0; n < w.Features; n++)
        {
            var row = w.Decoder.AsSpan(n * d, d);
            double n2 = 0;
            foreach (float v in row) n2 += (double)v * v;
            float norm = (float)Math.Sqrt(n2);
            if (norm == 0) continue;
            foreach (ref float v in row) v /= norm;
            foreach (ref float v in w.Encoder.AsSpan(n * d, d)) v *= norm;
            w.EncoderBias[n] *= norm;
            if (w.Threshold.Length > 0) w.Threshold[n] *= norm;
        }
    }

    /// <summary>SAELens' architecture name for an activation.</summary>
    public static string ArchitectureName(SaeActivation a) => a switch
    {
        SaeActivation.TopK => "topk",
        SaeActivation.JumpRelu => "jumprelu",
        _ => "standard",
    };

    /// <summary>SAELens' normalize_activations value.</summary>
    public static string NormalizationName(InputNormalization n) => n switch
    {
        InputNormalization.PerToken => "constant_norm_rescale",
        InputNormalization.LayerNorm => "layer_norm",
        _ => "none",
    };

    /// <summary>Writes directory/cfg.json and directory/sae_weights.safetensors (each written to a temporary file and renamed).</summary>
    /// <param name="method">The training method, recorded in cfg.json's "gba_engine" block.</param>
    /// <param name="groups">GBA's neuron groups and their target frequencies, recorded there too.</param>
    /// <param name="metadata">cfg.json's "metadata" block: model and hook names, context size, data set, BOS.</param>
    public static void Write(string directory, SparseAutoencoder sae, string? method = null, NeuronGroups? groups = null, SaeLensMetadata? metadata = null)
    {
        Directory.CreateDirectory(directory);
        var arch = sae.Architecture;
        int d = arch.Dim, m = arch.Neurons;
        JsonObject cfg;
        if (arch.Sparsity == SparsityMode.MatchingPursuit)
        {
            WriteMatchingPursuitWeights(directory, sae);
            cfg = Config(MatchingPursuitArchitecture, d, m, sae.Normalization, metadata);
            // The engine's pursuit: exactly T steps, every one taken (a repeated atom adds to its coefficient).
            cfg["residual_threshold"] = 0.0;
            cfg["max_iterations"] = arch.K;
            cfg["stop_on_duplicate_support"] = false;
        }
        else
        {
            var t = Tensors(sae);
            var wEncT = new float[(long)d * m];   // SAELens keeps W_enc as [d_in, d_sae]
            for (int n = 0; n < m; n++)
                for (int j = 0; j < d; j++) wEncT[(long)j * m + n] = t.Encoder[(long)n * d + j];
            var tensors = new List<SafetensorsWriter.Tensor>
            {
                new("W_enc", [d, m], wEncT), new("b_enc", [m], t.EncoderBias), new("W_dec", [m, d], t.Decoder), new("b_dec", [d], t.DecoderBias),
            };
            if (t.Threshold.Length > 0) tensors.Add(new("threshold", [m], t.Threshold));
            SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), tensors);
            cfg = Config(ArchitectureName(t.Activation), d, m, sae.Normalization, metadata);
            if (t.Activation == SaeActivation.TopK)
            {
                cfg["k"] = t.K;
                // Written out because SAELens' training config defaults it to true; our k is chosen on raw pre-activations.
                cfg["rescale_acts_by_decoder_norm"] = false;
            }
        }
        cfg["gba_engine"] = EngineBlock(sae, method, groups);
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), cfg.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The unit atoms as W_dec and the centring bias as b_dec: SAELens' MatchingPursuitSAE has no other tensor.</summary>
    static void WriteMatchingPursuitWeights(string directory, SparseAutoencoder sae)
    {
        var p = sae.Parameters;
        int d = sae.Dim, m = sae.Neurons;
        var wDec = new float[(long)m * d];
        for (int n = 0; n < m; n++) p.DecoderRow(n)[..d].CopyTo(wDec.AsSpan(n * d, d));
        float gd = DecoderFactor(sae);
        var bDec = new float[d];
        for (int j = 0; j < d; j++) bDec[j] = gd * p.PreBias[j];
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), [new("W_dec", [m, d], wDec), new("b_dec", [d], bDec)]);
    }

    /// <summary>The fields SAELens' SAEConfig.to_dict writes, in its order, with the 6.x metadata block.</summary>
    static JsonObject Config(string architecture, int d, int m, InputNormalization normalization, SaeLensMetadata? metadata) => new()
    {
        ["architecture"] = architecture,
        ["d_in"] = d,
        ["d_sae"] = m,
        ["dtype"] = "float32",
        ["device"] = "cpu",
        ["apply_b_dec_to_input"] = true,
        ["normalize_activations"] = NormalizationName(normalization),
        ["reshape_activations"] = "none",
        ["metadata"] = MetadataBlock(metadata),
    };

    /// <summary>
    /// SAELens 6's metadata block: sae_lens_version marks the 6.x format (a config without one is read as
    /// pre-6.0: metadata rebuilt from top-level keys, the rest dropped); sae_lens_training_version is null
    /// because SAELens did not train it; then the fields its training runner records, where known.
    /// </summary>
    static JsonObject MetadataBlock(SaeLensMetadata? m)
    {
        var meta = new JsonObject
        {
            ["sae_lens_version"] = SaeLensFormatVersion,
            ["sae_lens_training_version"] = null,
        };
        void Add(string key, JsonNode? value) { if (value is not null) meta[key] = value; }
        Add("model_name", m?.ModelName);
        Add("hook_name", m?.HookName);
        Add("context_size", m?.ContextSize);
        Add("dataset_path", m?.DatasetPath);
        Add("prepend_bos", m?.PrependBos);
        meta["model_from_pretrained_kwargs"] = new JsonObject();
        Add("dataset", m?.Dataset);
        return meta;
    }

    static JsonObject EngineBlock(SparseAutoencoder sae, string? method, NeuronGroups? groups)
    {
        var arch = sae.Architecture;
        return new JsonObject
        {
            ["format_version"] = 2,
            ["normalization"] = sae.Normalization == InputNormalization.PerToken ? "per_token" : "dataset_scale",
            ["activation_scale"] = sae.Normalization == InputNormalization.PerToken ? null : sae.InputScale,
            ["tied"] = arch.Tied,
            ["gate"] = arch.Gate.ToString().ToLowerInvariant(),
            ["method"] = method,
            ["decoder_norms"] = arch.Sparsity switch
            {
                SparsityMode.TopK => TopKNotFolded,
                SparsityMode.MatchingPursuit => "unit: the atoms of the dictionary",
                _ => "folded into W_enc, b_enc and the threshold (fold_W_dec_norm): rows are unit norm",
            },
            ["group_tafs"] = groups is null ? null : new JsonArray(groups.Tafs.Select(x => (JsonNode)x).ToArray()),
            ["neuron_groups"] = groups is null ? null : new JsonArray(groups.GroupOf.Select(g => (JsonNode)g).ToArray()),
        };
    }
}
