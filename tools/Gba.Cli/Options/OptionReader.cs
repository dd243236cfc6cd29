using System.Globalization;

namespace GbaEngine.Cli.Options;

/// <summary>
/// Parses "--name value" and "--flag" arguments against a command's <see cref="OptionSchema"/>, so every command
/// shares one vocabulary and an unknown or malformed option is one clear usage error. Values are read through the
/// schema too: a numeric option below its <see cref="OptionSpec.Min"/> is a usage error naming it, and reading an
/// option the command does not declare is a programming error.
/// </summary>
public sealed class OptionReader
{
    readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<string>> _lists = new(StringComparer.Ordinal);
    readonly List<string> _positional = [];
    readonly IReadOnlySet<string> _valueOptions, _flags;
    readonly IReadOnlySet<string>? _repeatable;
    readonly HashSet<string> _fromFile = new(StringComparer.Ordinal);

    /// <summary>Parses <paramref name="args"/> against <paramref name="schema"/>'s options.</summary>
    public OptionReader(OptionSchema schema, IReadOnlyList<string> args)
    {
        Schema = schema;
        _valueOptions = schema.ValueOptions;
        _flags = schema.Flags;
        _repeatable = schema.Repeatable;
        for (int i = 0; i < args.Count; i++)
        {
            var a = args[i];
            if (a == "-h") { _values[a] = null; continue; }   // --help's short form, the one single-dash option
            if (!a.StartsWith("--", StringComparison.Ordinal) || a == "--")
            {
                _positional.Add(a);
                continue;
            }
            string name = a;
            string? inline = null;
            int eq = a.IndexOf('=');
            if (eq > 0) { name = a[..eq]; inline = a[(eq + 1)..]; }
            if (_flags.Contains(name))
            {
                if (inline != null) throw new UsageException($"option {name} takes no value");
                _values[name] = null;
            }
            else if (_valueOptions.Contains(name))
            {
                var v = inline ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"option {name} needs a value"));
                if (_repeatable?.Contains(name) == true)
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

    /// <summary>The options this reader parses.</summary>
    public OptionSchema Schema { get; }

    /// <summary>Arguments that are not options, in order.</summary>
    public IReadOnlyList<string> Positional => _positional;

    /// <summary>--help or -h was given.</summary>
    public bool HelpRequested => _values.ContainsKey("--help") || _values.ContainsKey("-h");

    /// <summary>The value of an option the command cannot run without; absent, a usage error "--name VALUE is required" and <paramref name="why"/>.</summary>
    public string Required(string name, string? why = null)
    {
        var spec = Schema.Spec(name);
        return String(name) ?? throw new UsageException($"{spec.Usage} is required{(why is null ? "" : $" ({why})")}");
    }

    /// <summary>A usage error for the first of <paramref name="names"/> that was given: it has no meaning here (<paramref name="why"/>).</summary>
    public void Reject(IEnumerable<string> names, string why)
    {
        foreach (var name in names)
            if (Has(name)) throw new UsageException($"{name} {why}");
    }

    /// <summary>A usage error when positional arguments were given to a command that takes none.</summary>
    public void NoPositional()
    {
        if (_positional.Count > 0) throw new UsageException($"unexpected argument '{_positional[0]}'");
    }

    /// <summary>
    /// Fills options the command line did not give from a config file's object of options (keys are
    /// option names without the dashes, '_' or '-' between words), so flags override the file.
    /// A flag set to true in the file is set; a repeatable option takes a string or an array of them.
    /// Keys outside <paramref name="allowed"/> are an error naming <paramref name="source"/>.
    /// </summary>
    public void AddDefaults(IEnumerable<KeyValuePair<string, System.Text.Json.Nodes.JsonNode?>> options, string source, IReadOnlySet<string> allowed)
    {
        foreach (var (key, node) in options)
        {
            var name = "--" + key.Replace('_', '-');
            if (!allowed.Contains(name) || !(_flags.Contains(name) || _valueOptions.Contains(name)))
                throw new InvalidDataException($"{source}: unknown option '{key}'");
            if (node is null) continue;
            if (_flags.Contains(name))
            {
                if (node.GetValueKind() is not (System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False))
                    throw new InvalidDataException($"{source}: option '{key}' must be true or false");
                if (node.GetValue<bool>() && _values.TryAdd(name, null)) _fromFile.Add(name);
            }
            else if (_repeatable?.Contains(name) == true)
            {
                if (_lists.ContainsKey(name)) continue;
                var items = node is System.Text.Json.Nodes.JsonArray arr ? arr.Select(n => Scalar(n, key, source)).ToList() : [Scalar(node, key, source)];
                _lists[name] = items;
                _values[name] = items.LastOrDefault();
                _fromFile.Add(name);
            }
            else if (!_values.ContainsKey(name))
            {
                _values[name] = Scalar(node, key, source);
                _fromFile.Add(name);
            }
        }
    }

    static string Scalar(System.Text.Json.Nodes.JsonNode? node, string key, string source) => node?.GetValueKind() switch
    {
        System.Text.Json.JsonValueKind.String => node.GetValue<string>(),
        System.Text.Json.JsonValueKind.Number => node.ToJsonString(),
        _ => throw new InvalidDataException($"{source}: option '{key}' must be a string or a number"),
    };

    /// <summary>True when the option was typed on the command line (not filled from a config file).</summary>
    public bool FromCommandLine(string name) => _values.ContainsKey(name) && !_fromFile.Contains(name);

    /// <summary>Forgets an option (a command-line value replaces a conflicting one from a file).</summary>
    public void Remove(string name)
    {
        _values.Remove(name);
        _lists.Remove(name);
        _fromFile.Remove(name);
    }

    /// <summary>
    /// Every option held (typed or filled from a config file) as a command line that reads back into
    /// the same options, leaving out <paramref name="exclude"/>; positional arguments come last.
    /// </summary>
    public List<string> ToArgs(IReadOnlySet<string>? exclude = null)
    {
        var args = new List<string>();
        foreach (var (name, value) in _values)
        {
            if (exclude?.Contains(name) == true) continue;
            if (_flags.Contains(name)) args.Add(name);
            else if (_lists.TryGetValue(name, out var list)) foreach (var v in list) args.AddRange([name, v]);
            else args.AddRange([name, value!]);
        }
        args.AddRange(_positional);
        return args;
    }

    /// <summary>Every option given on the command line or filled from a config file.</summary>
    public IEnumerable<string> Names => _values.Keys;

    /// <summary>Whether a flag was given.</summary>
    public bool Flag(string name) => Has(name);

    /// <summary>Every value of a repeatable option, in order.</summary>
    public IReadOnlyList<string> Strings(string name)
    {
        Schema.Spec(name);
        return _lists.TryGetValue(name, out var l) ? l : [];
    }

    /// <summary>Whether the option was given (on the command line or by a config file).</summary>
    public bool Has(string name)
    {
        Schema.Spec(name);
        return _values.ContainsKey(name);
    }

    /// <summary>The option's value as given, or null.</summary>
    public string? String(string name)
    {
        Schema.Spec(name);
        return _values.TryGetValue(name, out var v) ? v : null;
    }

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

    T Get<T>(string name, T fallback, Func<string, T> parse) where T : IConvertible
    {
        var spec = Schema.Spec(name);
        if (!_values.TryGetValue(name, out var s) || s is null) return fallback;
        T value;
        try { value = parse(s); }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"option {name}: cannot read '{s}' ({e.Message.TrimEnd('.')})");
        }
        if (spec.Min is { } min && value.ToDouble(CultureInfo.InvariantCulture) < min)
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"{name} must be at least {min} (got {s})"));
        return value;
    }
}
