using System.Text.Json;
using GbaEngine.Formats;
using static GbaEngine.Tests.Activations.TestFiles;

using GbaEngine.Tests.Activations;

namespace GbaEngine.Cli.Tests;

/// <summary>`gba inspect` end to end.</summary>
public class InspectCommandTests
{
    const int Dim = 9;

    static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliApp.Run(["inspect", .. args], o, e);
        return (code, o.ToString(), e.ToString());
    }

    [Fact]
    public void Inspect_command_prints_a_table_or_json_and_reports_bad_input_on_one_line()
    {
        using var dir = new TempDir();
        var v = Values(12 * Dim, ActivationDType.BF16, 3);
        var raw = dir.File("acts.bf16", Encode(v, ActivationDType.BF16));
        var st = dir.File("m.safetensors", Safetensors([new("x", "BF16", [12, Dim], Encode(v, ActivationDType.BF16)), new("y", "F32", [2], new byte[8])]));

        var (code, stdout, stderr) = Cli(raw, "--dtype", "bf16", "--dim", $"{Dim}", st, "--tensor", "x");
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.Contains("acts.bf16", stdout);
        Assert.Contains("m.safetensors [x]", stdout);
        Assert.Contains("total (2 files)", stdout);
        Assert.Contains("[12, 9]", stdout);

        (code, stdout, _) = Cli(SharedData("glove-6b-100d-top50k.f32.npy"), "--json");
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]);
        Assert.Equal(50000, json.RootElement.GetProperty("tokens").GetInt64());
        Assert.Equal(100, json.RootElement.GetProperty("dim").GetInt32());
        Assert.Equal(50000, json.RootElement.GetProperty("total").GetProperty("tokens").GetInt64());
        var file = json.RootElement.GetProperty("files")[0];
        Assert.Equal("f32", file.GetProperty("dtype").GetString());
        Assert.Equal([50000L, 100L], file.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
        Assert.True(file.GetProperty("mean_norm").GetDouble() > 0);

        // Files of different widths are each described; there is no combined total.
        (code, stdout, _) = Cli(SharedData("use-lite-moby-resid1-40k.f16.npy"), SharedData("glove-6b-100d-top50k.f32.npy"), "--json");
        Assert.Equal(0, code);
        using (var both = JsonDocument.Parse(stdout.TrimEnd().Split('\n')[^1]))
        {
            Assert.Equal(JsonValueKind.Null, both.RootElement.GetProperty("total").ValueKind);
            Assert.Equal([512, 100], both.RootElement.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("dim").GetInt32()));
            Assert.Equal(90000, both.RootElement.GetProperty("tokens").GetInt64());
        }
        (code, stdout, _) = Cli(SharedData("use-lite-moby-resid1-40k.f16.npy"), raw, "--dtype", "bf16", "--dim", $"{Dim}");
        Assert.Equal(0, code);
        Assert.Contains("no combined total", stdout);

        (code, stdout, stderr) = Cli(st);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.TrimEnd().Split('\n'));
        Assert.StartsWith($"gba inspect: {st}: ", line);
        Assert.Contains("'x', 'y'", line);

        (code, _, stderr) = Cli(Path.Combine(dir.Path, "missing.npy"));
        Assert.Equal(1, code);
        Assert.Matches("^gba inspect: .*missing.npy: file not found", stderr);

        foreach (var bad in new[] { new string[0], ["--bogus", raw], [raw, "--dtype", "f16"], [raw, "--dtype", "i8", "--dim", "3"], [raw, "--dtype", "f16", "--dim", "0"], [raw, "--tensor"] })
        {
            (code, _, stderr) = Cli(bad);
            Assert.Equal(2, code);
            Assert.StartsWith("gba inspect: ", stderr);
        }
        Assert.Equal(0, Cli("--help").Code);
    }
}
