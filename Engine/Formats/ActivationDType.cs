namespace GbaEngine.Formats;

/// <summary>Element types the loader reads; everything is delivered as fp32.</summary>
public enum ActivationDType
{
    /// <summary>32-bit float.</summary>
    F32,
    /// <summary>IEEE half.</summary>
    F16,
    /// <summary>bfloat16.</summary>
    BF16,
    /// <summary>64-bit float (converted to 32-bit on read).</summary>
    F64,
}

/// <summary>How each file's bytes are laid out.</summary>
public enum ShardFormat
{
    /// <summary>NumPy .npy.</summary>
    Npy,
    /// <summary>.safetensors.</summary>
    Safetensors,
    /// <summary>Raw little-endian rows (dtype and d given by the caller).</summary>
    Raw,
}

/// <summary>Names and sizes of the element types.</summary>
public static class ActivationDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ByteSize(this ActivationDType t) => t switch
    {
        ActivationDType.F32 => 4,
        ActivationDType.F16 or ActivationDType.BF16 => 2,
        ActivationDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "Unknown activation dtype."),
    };

    /// <summary>Lower-case name as the CLI spells it (f32, f16, bf16, f64).</summary>
    public static string Name(this ActivationDType t) => t.ToString().ToLowerInvariant();

    /// <summary>Parses f32 | f16 | bf16 | f64 (the raw-file --dtype values); null if unknown.</summary>
    public static ActivationDType? TryParse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" => ActivationDType.F32,
        "f16" or "float16" => ActivationDType.F16,
        "bf16" or "bfloat16" => ActivationDType.BF16,
        "f64" or "float64" => ActivationDType.F64,
        _ => null,
    };
}
