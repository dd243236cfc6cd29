using System.Text.Json;
using System.Text.Json.Nodes;
using GbaEngine.Cli.Options;
using GbaEngine.Cli.Runs;
using GbaEngine.Tests.Activations;
using GbaEngine.Training;

namespace GbaEngine.Cli.Tests;

/// <summary>
/// The one policy for numbers JSON cannot hold (<see cref="CliJson.ToResultJson"/>): NaN and ±infinity are written as
/// null by every CLI writer. The issue: `--lr 1e10 --out D` died inside System.Text.Json ("infinity cannot be written
/// as valid JSON") instead of writing its files.
/// </summary>
public class JsonPolicyTests
{
    [Fact]
    public void NonFiniteNumbersAreNullAtEveryDepth()
    {
        var node = new JsonObject
        {
            ["nan"] = double.NaN, ["inf"] = double.PositiveInfinity, ["ninf"] = double.NegativeInfinity, ["fnan"] = float.NaN,
            ["finf"] = float.PositiveInfinity, ["ok"] = 0.25, ["n"] = 3L, ["s"] = "NaN",
            ["list"] = new JsonArray(1.5, double.NaN, new JsonObject { ["deep"] = double.NegativeInfinity }),
        };
        Assert.Throws<ArgumentException>(() => node.ToJsonString());   // what the writers did before
        var text = node.ToResultJson();
        Assert.Equal("""{"nan":null,"inf":null,"ninf":null,"fnan":null,"finf":null,"ok":0.25,"n":3,"s":"NaN","list":[1.5,null,{"deep":null}]}""", text);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
    }

    [Fact]
    public void FiniteDocumentsAreWrittenExactlyAsBefore()
    {
        var node = JsonNode.Parse("""{"a":1,"b":[0.1,-2.5e-7,"x ≥ y",true,null],"c":{"d":"é","e":12345678901234}}""")!;
        node["f"] = 1.0 / 3;
        node["g"] = 3.25e38f;
        foreach (var options in new[] { null, new JsonSerializerOptions { WriteIndented = true }, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping } })
            Assert.Equal(node.ToJsonString(options), node.ToResultJson(options));
    }

    [Fact]
    public void TheLossLogAndRunFilesWriteNullForADivergedValue()
    {
        var w = new StringWriter();
        var log = new LossLog(w);
        log.OnStep(new StepReport(1, 1, 64, 64, double.PositiveInfinity, double.NaN, 0.5));
        var line = JsonNode.Parse(w.ToString())!;
        Assert.Null(line["loss"]);
        Assert.Null(line["l0"]);
        Assert.Equal(1, (long)line["step"]!);

        using var t = new TempDir();
        RunConfig.WriteAtomically(t["summary.json"], new JsonObject { ["fvu"] = double.NaN, ["l0"] = 2.0 });
        Assert.Equal("""{"fvu":null,"l0":2}""", JsonNode.Parse(File.ReadAllText(t["summary.json"]))!.ToJsonString());
    }
}
