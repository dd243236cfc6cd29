using System.Buffers.Binary;
using System.Text;

namespace GbaEngine.Formats;

/// <summary>
/// Reads a NumPy .npy header (NEP 1, versions 1.0, 2.0 and 3.0) without trusting it: magic, version,
/// header length bounded by the file and <see cref="MaxHeaderBytes"/>, then a strict parser for the
/// Python dict literal NumPy writes ({'descr': '&lt;f4', 'fortran_order': False, 'shape': (N, d), })
/// with exactly those three keys. Accepted dtypes: '&lt;f4', '&lt;f2', '&lt;f8'; anything else is rejected
/// by name. 2-D arrays in Fortran order are accepted and transposed on read (a column-major [N, d]
/// is still N tokens of width d); 3-D Fortran arrays are rejected because tokens would not be rows.
/// The data must fill the rest of the file exactly: a short file is truncated, a long one carries
/// bytes nobody can account for, and both are errors rather than guesses.
/// </summary>
internal static class NpyHeader
{
    /// <summary>NumPy itself refuses headers over 10 kB by default; 1 MiB leaves room and still bounds work.</summary>
    public const int MaxHeaderBytes = 1 << 20;

    static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static bool HasMagic(ReadOnlySpan<byte> prefix) => prefix.StartsWith(Magic);

    public static ShardLayout Parse(string path, MappedFile file)
    {
        var (descr, fortran, shape, dataOffset) = ReadHeader(path, file);
        var dtype = descr switch
        {
            "<f4" => ActivationDType.F32,
            "<f2" => ActivationDType.F16,
            "<f8" => ActivationDType.F64,
            _ => throw new ActivationFormatException(path, $"header: dtype '{descr}' is not supported: expected '<f4', '<f2' or '<f8' (little-endian float32, float16, float64)."),
        };
        var (rows, dim) = TokenShape.FromShape(path, "header", shape);
        if (fortran && shape.Length != 2)
            throw new ActivationFormatException(path, $"header: fortran_order True with shape {TokenShape.Format(shape)}: only 2-D Fortran-order arrays can be read as tokens; save with np.ascontiguousarray.");

        long found = file.Length - dataOffset;
        long? expected = TokenShape.DataBytes(rows, dim, dtype);
        if (expected != found)
            throw new ActivationFormatException(path,
                $"offset {dataOffset}: shape {TokenShape.Format(shape)} of '{descr}' needs {(expected is { } e ? e.ToString() : "over 2^63")} data bytes, found {found}" +
                (expected is null || found < expected ? " (truncated file, or the header lies about the shape)." : " (extra bytes after the array)."));
        return new ShardLayout(ShardFormat.Npy, dtype, rows, dim, dataOffset, fortran, shape, null);
    }

    /// <summary>The validated header of any .npy file: its dtype string, order, shape and the offset where the data starts.
    /// Callers check the dtype and the data length for what they read.</summary>
    public static (string Descr, bool Fortran, long[] Shape, long DataOffset) ReadHeader(string path, MappedFile file)
    {
        var prelude = file.Prefix(12);
        if (!prelude.StartsWith(Magic))
            throw new ActivationFormatException(path, $"offset 0: expected the NumPy magic \\x93NUMPY, found {Show(prelude[..Math.Min(6, prelude.Length)])} (file is {file.Length} bytes).");
        if (prelude.Length < 8)
            throw new ActivationFormatException(path, $"offset 6: the file ends inside the .npy version bytes (file is {file.Length} bytes).");
        int major = prelude[6], minor = prelude[7];
        if (major is < 1 or > 3 || minor != 0)
            throw new ActivationFormatException(path, $"offset 6: .npy version {major}.{minor}: expected 1.0, 2.0 or 3.0.");
        int headerStart = major == 1 ? 10 : 12;
        if (prelude.Length < headerStart)
            throw new ActivationFormatException(path, $"offset 8: the file ends inside the .npy header-length field (file is {file.Length} bytes).");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(prelude[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(prelude[8..]);
        if (headerLength > MaxHeaderBytes)
            throw new ActivationFormatException(path, $"offset 8: header length {headerLength} bytes: expected at most {MaxHeaderBytes}.");
        if (headerStart + headerLength > file.Length)
            throw new ActivationFormatException(path, $"offset {headerStart}: header claims {headerLength} bytes but only {file.Length - headerStart} follow (truncated file).");

        var bytes = file.Prefix(headerStart + (int)headerLength)[headerStart..];
        string text;
        try
        {
            text = major == 3 ? new UTF8Encoding(false, true).GetString(bytes) : Encoding.Latin1.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new ActivationFormatException(path, $"offset {headerStart}: the v3.0 header is not valid UTF-8.", e);
        }

        var (descr, fortran, shape) = new DictParser(path, headerStart, text).Parse();
        return (descr, fortran, shape, headerStart + headerLength);
    }

    static string Show(ReadOnlySpan<byte> b) => b.Length == 0 ? "nothing" : Convert.ToHexString(b);

    /// <summary>
    /// Recursive-descent parser for the only literal NumPy writes: a dict of str keys to str, bool or
    /// a tuple of ints. Python rules kept: '(5)' is an int, not a tuple; trailing commas allowed; ints
    /// may carry Python 2's 'L'. Nothing else (no escapes, no expressions) is accepted.
    /// </summary>
    ref struct DictParser(string path, int offset, string text)
    {
        int _i;

        public (string Descr, bool Fortran, long[] Shape) Parse()
        {
            string? descr = null;
            bool? fortran = null;
            long[]? shape = null;
            Expect('{');
            while (true)
            {
                SkipSpace();
                if (Peek() == '}') { _i++; break; }
                int keyAt = _i;
                string key = ParseString();
                Expect(':');
                SkipSpace();
                switch (key)
                {
                    case "descr" when descr is null:
                        if (Peek() is not ('\'' or '"')) throw Fail("a dtype string for 'descr' (structured dtypes are not supported)");
                        descr = ParseString();
                        break;
                    case "fortran_order" when fortran is null: fortran = ParseBool(); break;
                    case "shape" when shape is null: shape = ParseTuple(); break;
                    case "descr" or "fortran_order" or "shape": _i = keyAt; throw Fail($"no second '{key}' key");
                    default: _i = keyAt; throw Fail($"only the keys 'descr', 'fortran_order', 'shape', not '{key}'");
                }
                SkipSpace();
                if (Peek() == ',') { _i++; continue; }
                if (Peek() == '}') { _i++; break; }
                throw Fail("',' or '}'");
            }
            SkipSpace();
            if (_i != text.Length) throw Fail("only spaces and a newline after the dict");
            if (descr is null) throw Missing("descr");
            if (fortran is null) throw Missing("fortran_order");
            if (shape is null) throw Missing("shape");
            return (descr, fortran.Value, shape);
        }

        ActivationFormatException Missing(string key) =>
            new(path, $"header: the dict has no '{key}' key (header: {Excerpt(0)}).");

        ActivationFormatException Fail(string expected) =>
            new(path, $"header offset {offset + _i}: expected {expected}, found {(_i < text.Length ? $"'{Excerpt(_i)}'" : "the end of the header")}.");

        string Excerpt(int from)
        {
            var s = text[from..].TrimEnd();
            return s.Length > 60 ? s[..60] + "..." : s;
        }

        char Peek() => _i < text.Length ? text[_i] : '\0';

        void SkipSpace()
        {
            while (_i < text.Length && text[_i] is ' ' or '\t' or '\n' or '\r') _i++;
        }

        void Expect(char c)
        {
            SkipSpace();
            if (Peek() != c) throw Fail($"'{c}'");
            _i++;
        }

        string ParseString()
        {
            char q = Peek();
            if (q is not ('\'' or '"')) throw Fail("a quoted string");
            int start = ++_i;
            while (_i < text.Length && text[_i] != q)
            {
                if (text[_i] is '\\' or '\n') throw Fail("a plain string (no escapes or newlines)");
                _i++;
            }
            if (_i >= text.Length) throw Fail($"the closing {q}");
            return text[start.._i++];
        }

        bool ParseBool()
        {
            if (string.CompareOrdinal(text, _i, "True", 0, 4) == 0) { _i += 4; return true; }
            if (string.CompareOrdinal(text, _i, "False", 0, 5) == 0) { _i += 5; return false; }
            throw Fail("True or False for 'fortran_order'");
        }

        long[] ParseTuple()
        {
            if (Peek() != '(') throw Fail("a tuple for 'shape'");
            _i++;
            var dims = new List<long>();
            bool sawComma = false;
            while (true)
            {
                SkipSpace();
                if (Peek() == ')') { _i++; break; }
                if (dims.Count > 32) throw Fail("at most 32 dimensions");
                dims.Add(ParseInt());
                SkipSpace();
                if (Peek() == ',') { _i++; sawComma = true; continue; }
                if (Peek() == ')') { _i++; break; }
                throw Fail("',' or ')' in the shape tuple");
            }
            if (dims.Count == 1 && !sawComma) throw Fail("a tuple for 'shape' ('(n)' is an int; a 1-tuple is '(n,)')");
            return dims.ToArray();
        }

        long ParseInt()
        {
            int start = _i;
            long value = 0;
            while (_i < text.Length && char.IsAsciiDigit(text[_i]))
            {
                int digit = text[_i] - '0';
                if (value > (long.MaxValue - digit) / 10) { _i = start; throw Fail("a dimension below 2^63"); }
                value = value * 10 + digit;
                _i++;
            }
            if (_i == start) throw Fail("a non-negative integer dimension");
            if (Peek() == 'L') _i++;
            return value;
        }
    }
}
