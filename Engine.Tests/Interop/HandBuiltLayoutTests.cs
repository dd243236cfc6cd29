using GbaEngine.Activations;
using GbaEngine.Inference;
using GbaEngine.Tests.Activations;
using GbaEngine.Formats;
using GbaEngine.Model;
using GbaEngine.Interop;

namespace GbaEngine.Tests.Interop;

/// <summary>
/// SAE directories written byte by byte by the test (cfg.json + safetensors, from the layouts'
/// documentation, not from our exporter), with d = 3, M = 4 and values chosen so every step is exact
/// in fp32; the expected features and reconstructions are worked out by hand in the comments.
/// </summary>
[Trait("Category", "Kernels")]
public class HandBuiltLayoutTests : IDisposable
{
    readonly TempDir _root = new("gba-handbuilt-");

    public void Dispose() => _root.Dispose();

    // The shared SAE. Input x = [2, 1, 0], b_dec = [1, 0, −1], so x − b_dec = [1, 1, 1].
    // Encoder directions (columns of SAELens W_enc [d_in, d_sae]): n0 = [1,0,0], n1 = [0,2,0], n2 = [1,1,1], n3 = [−1,0,0]
    //   → W_enc·(x − b_dec) = [1, 2, 3, −1]; b_enc = [0.5, −0.75, −1, 0] → pre = [1.5, 1.25, 2, −1].
    // Decoder rows W_dec [d_sae, d_in]: n0 = [1,0,0], n1 = [0,1,0], n2 = [0,0,1], n3 = [1,1,1].
    static readonly float[] X = [2, 1, 0];
    static readonly float[] BDec = [1, 0, -1];
    static readonly float[] WEnc = [1, 0, 1, -1,   0, 2, 1, 0,   0, 0, 1, 0];     // [3, 4] row-major
    static readonly float[] BEnc = [0.5f, -0.75f, -1, 0];
    static readonly float[] WDec = [1, 0, 0,   0, 1, 0,   0, 0, 1,   1, 1, 1];    // [4, 3]

    string SaeLens(string name, string cfg, float[]? wDec = null, params TestFiles.Tensor[] extra)
    {
        var dir = _root[name];
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "cfg.json"), cfg);
        var tensors = new List<TestFiles.Tensor>
        {
            new("W_enc", "F32", [3, 4], TestFiles.Encode(WEnc, ActivationDType.F32)),
            new("b_enc", "F32", [4], TestFiles.Encode(BEnc, ActivationDType.F32)),
            new("W_dec", "F32", [4, 3], TestFiles.Encode(wDec ?? WDec, ActivationDType.F32)),
            new("b_dec", "F32", [3], TestFiles.Encode(BDec, ActivationDType.F32)),
        };
        tensors.AddRange(extra);
        File.WriteAllBytes(Path.Combine(dir, "sae_weights.safetensors"), TestFiles.Safetensors(tensors));
        return dir;
    }

    static void AssertEncodes(SaeModel sae, int[] indices, float[] values, float[] xhat)
    {
        var f = sae.Encode(X);
        Assert.Equal(indices, f.Indices);
        Assert.Equal(values, f.Values);
        Assert.Equal(xhat, sae.Decode(f));
        // The batch path (SGEMM) must agree on this exactly representable problem too.
        var batch = sae.EncodeBatch([.. X, .. X], 2);
        for (int t = 0; t < 2; t++)
        {
            Assert.Equal(indices, batch.Indices(t).ToArray());
            Assert.Equal(values, batch.Values(t).ToArray());
        }
        var both = new float[6];
        sae.ReconstructBatch([.. X, .. X], 2, both);
        Assert.Equal([.. xhat, .. xhat], both);
    }

    [Fact]
    public void SaeLensJumpReluClampsNegativeThresholdsAtZero()
    {
        // threshold [1, 2, 0.5, −3]; SAELens 6 gates on pre > relu(θ) = [1, 2, 0.5, 0]:
        // n0 1.5 > 1 yes, n1 1.25 > 2 no, n2 2 > 0.5 yes, n3 −1 > 0 no (with the raw −3 it would fire).
        // f = [1.5, 0, 2, 0]; x̂ = 1.5·[1,0,0] + 2·[0,0,1] + [1,0,−1] = [2.5, 0, 1].
        var dir = SaeLens("jumprelu", """{"architecture": "jumprelu", "d_in": 3, "d_sae": 4, "dtype": "float32", "apply_b_dec_to_input": true, "normalize_activations": "none", "metadata": {}}""",
            null, new TestFiles.Tensor("threshold", "F32", [4], TestFiles.Encode([1f, 2f, 0.5f, -3f], ActivationDType.F32)));
        var sae = SaeModel.Load(dir);
        Assert.Equal(SaeLayout.SaeLens, sae.Layout);
        Assert.Equal(SaeActivation.JumpRelu, sae.Activation);
        Assert.Equal((3, 4), (sae.Dim, sae.Features));
        AssertEncodes(sae, [0, 2], [1.5f, 2f], [2.5f, 0f, 1f]);
    }

    [Fact]
    public void SaeLensJumpReluFromLogThreshold()
    {
        // Older checkpoints store log θ; θ = exp(log θ) = [e^0, e^0.7, e^−1, e^0] ≈ [1, 2.01, 0.37, 1]: n0 and n2 fire as above.
        var dir = SaeLens("logthreshold", """{"architecture": "jumprelu", "d_in": 3, "d_sae": 4}""",
            null, new TestFiles.Tensor("log_threshold", "F32", [4], TestFiles.Encode([0f, 0.7f, -1f, 0f], ActivationDType.F32)));
        AssertEncodes(SaeModel.Load(dir), [0, 2], [1.5f, 2f], [2.5f, 0f, 1f]);
    }

    [Fact]
    public void SaeLensStandardIsRelu()
    {
        // relu(pre) = [1.5, 1.25, 2, 0]; x̂ = [1.5, 1.25, 2] + [1, 0, −1] = [2.5, 1.25, 1].
        var dir = SaeLens("standard", """{"architecture": "standard", "d_in": 3, "d_sae": 4, "apply_b_dec_to_input": true, "normalize_activations": "none"}""");
        var sae = SaeModel.Load(dir);
        Assert.Equal(SaeActivation.Relu, sae.Activation);
        AssertEncodes(sae, [0, 1, 2], [1.5f, 1.25f, 2f], [2.5f, 1.25f, 1f]);
    }

    [Fact]
    public void SaeLensStandardWithoutDecoderBiasOnTheInput()
    {
        // apply_b_dec_to_input false: W_enc·x = [2, 2, 3, −2], + b_enc = [2.5, 1.25, 2, −2]; relu keeps n0..n2;
        // x̂ = [2.5, 1.25, 2] + [1, 0, −1] = [3.5, 1.25, 1].
        var dir = SaeLens("nobdec", """{"architecture": "standard", "d_in": 3, "d_sae": 4, "apply_b_dec_to_input": false}""");
        var sae = SaeModel.Load(dir);
        Assert.False(sae.ApplyDecoderBiasToInput);
        AssertEncodes(sae, [0, 1, 2], [2.5f, 1.25f, 2f], [3.5f, 1.25f, 1f]);
    }

    [Fact]
    public void SaeLensTopK()
    {
        // k = 2 largest of pre = [1.5, 1.25, 2, −1]: n2 (2) and n0 (1.5); x̂ = [2.5, 0, 1].
        var dir = SaeLens("topk", """{"architecture": "topk", "d_in": 3, "d_sae": 4, "k": 2, "rescale_acts_by_decoder_norm": false}""");
        var sae = SaeModel.Load(dir);
        Assert.Equal((SaeActivation.TopK, 2), (sae.Activation, sae.K));
        AssertEncodes(sae, [0, 2], [1.5f, 2f], [2.5f, 0f, 1f]);
    }

    [Fact]
    public void SaeLensPre6TopKConfig()
    {
        // SAELens 5 wrote TopK as architecture "standard" with activation_fn_str "topk" and activation_fn_kwargs.k.
        var dir = SaeLens("topk5", """{"architecture": "standard", "d_in": 3, "d_sae": 4, "activation_fn_str": "topk", "activation_fn_kwargs": {"k": 2}}""");
        AssertEncodes(SaeModel.Load(dir), [0, 2], [1.5f, 2f], [2.5f, 0f, 1f]);
    }

    [Fact]
    public void SaeLensTopKRescaledByDecoderNorm()
    {
        // rescale_acts_by_decoder_norm with W_dec n1 = [0, 4, 0] (norm 4, the others norm 1, n3 √3):
        // SAELens selects on pre·‖W_dec‖ = [1.5, 5, 2, −√3] → n1 (5), n2 (2); features [0, 5, 2, 0];
        // decode divides by the norms: 5/4·[0,4,0] + 2·[0,0,1] + [1,0,−1] = [1, 5, 1].
        float[] wDec = [1, 0, 0,   0, 4, 0,   0, 0, 1,   1, 1, 1];
        var dir = SaeLens("topkrescale", """{"architecture": "topk", "d_in": 3, "d_sae": 4, "k": 2, "rescale_acts_by_decoder_norm": true}""", wDec);
        AssertEncodes(SaeModel.Load(dir), [1, 2], [5f, 2f], [1f, 5f, 1f]);
    }

    [Fact]
    public void SparsifyTopKInBFloat16()
    {
        // sparsify keeps encoder.weight as [num_latents, d_in] (the rows are the encoder directions above) and
        // computes topk(relu(encoder(x − b_dec))): n2 (2), n0 (1.5); x̂ = [2.5, 0, 1]. Every value is exact in bf16.
        var dir = Path.Combine(_root.Path, "sparsify", "layers.3");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "cfg.json"),
            """{"activation": "topk", "expansion_factor": 32, "normalize_decoder": true, "num_latents": 4, "k": 2, "multi_topk": false, "skip_connection": false, "transcode": false, "d_in": 3}""");
        float[] encoderWeight = [1, 0, 0,   0, 2, 0,   1, 1, 1,   -1, 0, 0];
        File.WriteAllBytes(Path.Combine(dir, "sae.safetensors"), TestFiles.Safetensors(
        [
            new("encoder.weight", "BF16", [4, 3], TestFiles.Encode(encoderWeight, ActivationDType.BF16)),
            new("encoder.bias", "BF16", [4], TestFiles.Encode(BEnc, ActivationDType.BF16)),
            new("W_dec", "BF16", [4, 3], TestFiles.Encode(WDec, ActivationDType.BF16)),
            new("b_dec", "BF16", [3], TestFiles.Encode(BDec, ActivationDType.BF16)),
        ]));
        var sae = SaeModel.Load(dir);
        Assert.Equal((SaeLayout.Sparsify, SaeActivation.TopK, 2), (sae.Layout, sae.Activation, sae.K));
        AssertEncodes(sae, [0, 2], [1.5f, 2f], [2.5f, 0f, 1f]);
    }

    [Theory]
    [InlineData("constant_norm_rescale")]
    [InlineData("layer_norm")]
    public void SaeLensPerTokenNormalisationMatchesItsFormula(string normalization)
    {
        // Not exact arithmetic, so against SAELens' formulas evaluated in double.
        var dir = SaeLens(normalization, $$"""{"architecture": "standard", "d_in": 3, "d_sae": 4, "normalize_activations": "{{normalization}}"}""");
        var sae = SaeModel.Load(dir);
        float[] x = [3f, -1.5f, 0.25f];
        double[] xn;
        double outScale, outShift = 0;
        if (normalization == "constant_norm_rescale")
        {
            double coeff = Math.Sqrt(3) / Math.Sqrt(x.Sum(v => (double)v * v));
            xn = x.Select(v => v * coeff).ToArray();
            outScale = 1 / coeff;
        }
        else
        {
            double mu = x.Average(v => (double)v);
            double std = Math.Sqrt(x.Sum(v => (v - mu) * (v - mu)) / 2);   // torch.std is unbiased
            xn = x.Select(v => (v - mu) / (std + 1e-5)).ToArray();
            (outScale, outShift) = (std, mu);
        }
        var pre = new double[4];
        for (int n = 0; n < 4; n++)
        {
            pre[n] = BEnc[n];
            for (int j = 0; j < 3; j++) pre[n] += (xn[j] - BDec[j]) * WEnc[j * 4 + n];
        }
        var expected = new double[3];
        for (int j = 0; j < 3; j++)
        {
            double v = BDec[j];
            for (int n = 0; n < 4; n++) v += Math.Max(pre[n], 0) * WDec[n * 3 + j];
            expected[j] = v * outScale + outShift;
        }
        var f = sae.Encode(x);
        Assert.Equal(Enumerable.Range(0, 4).Where(n => pre[n] > 0), f.Indices);
        var xhat = sae.Decode(f);
        for (int j = 0; j < 3; j++) Assert.Equal(expected[j], xhat[j], 5);
    }
}
