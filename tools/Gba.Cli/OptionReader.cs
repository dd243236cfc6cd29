using System.Globalization;

namespace GbaEngine.Cli;

/// <summary>
/// Parses "--name value" and "--flag" arguments against a declared set, so every command shares one
/// vocabulary and an unknown or malformed option is one clear usage error.
/// </summary>
public sealed class OptionReader
{
    readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<string>> _lists = new(StringComparer.Ordinal);
    readonly List<string> _positional = [];
    readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <param name="repeatable">Value options that may be given more than once (e.g. --data).</param>
    public OptionReader(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string> flags, IReadOnlySet<string>? repeatable = null)
    {
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--")
            {
                _positional.Add(a);
                continue;
            }
            string name = a;
            string? inline = null;
            int eq = a.IndexOf('=');
            if (eq > 0) { name = a[..eq]; inline = a[(eq + 1)..]; }
            if (flags.Contains(name))
            {
                if (inline != null) throw new UsageException($"option {name} takes no value");
                _values[name] = null;
            }
            else if (valueOptions.Contains(name))
            {
                var v = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"option {name} needs a value"));
                if (repeatable?.Contains(name) == true)
                {
                    if (!_lists.TryGetValue(name, out var list)) _lists[name] = list = [];
                    list.Add(v);
                }
                else if (_values.ContainsKey(name)) throw new UsageException($"option {name} given twice");
                _values[name] = v;
            }
            else throw new UsageException($"unknown option '{name}'");
        }
    }

    public IReadOnlyList<string> Positional => _positional;

    public bool Flag(string name) => _values.ContainsKey(name);

    /// <summary>Every value of a repeatable option, in order.</summary>
    public IReadOnlyList<string> Strings(string name) => _lists.TryGetValue(name, out var l) ? l : [];

    public bool Has(string name) => _values.ContainsKey(name);

    public string? String(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public int Int(string name, int fallback) => Get(name, fallback, s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public long Long(string name, long fallback) => Get(name, fallback, ParseLong);

    public ulong ULong(string name, ulong fallback) => Get(name, fallback, s => ulong.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture));

    public double Double(string name, double fallback) => Get(name, fallback, s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture));

    public T Enum<T>(string name, T fallback) where T : struct, System.Enum =>
        Get(name, fallback, s => System.Enum.TryParse<T>(s.Replace("-", ""), ignoreCase: true, out var v) && System.Enum.IsDefined(v)
            ? v : throw new FormatException($"expected one of {string.Join(", ", System.Enum.GetNames<T>()).ToLowerInvariant()}"));

    /// <summary>Accepts 1000000, 1e6, 100k, 10M, 1G.</summary>
    static long ParseLong(string s)
    {
        s = s.Trim();
        long mult = 1;
        if (s.Length > 1 && char.IsLetter(s[^1]))
        {
            mult = char.ToLowerInvariant(s[^1]) switch { 'k' => 1_000, 'm' => 1_000_000, 'g' => 1_000_000_000, _ => throw new FormatException("unknown suffix") };
            s = s[..^1];
        }
        double v = double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture) * mult;
        if (v != Math.Floor(v) || v < long.MinValue || v > long.MaxValue) throw new FormatException("not a whole number");
        return (long)v;
    }

    T Get<T>(string name, T fallback, Func<string, T> parse)
    {
        if (!_values.TryGetValue(name, out var s) || s is null) return fallback;
        try { return parse(s); }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"option {name}: cannot read '{s}' ({e.Message.TrimEnd('.')})");
        }
    }
}
