using System.Text.Json;
using OrleansWorker.AspNetCore;

namespace OrleansWorker.Tests.Library;

/// <summary>
/// JSON text the API stores and writes back: one value whose strings all decode. A syntax check alone let an escaped
/// lone surrogate through, which was stored and then failed every read of the job with a 500.
/// </summary>
public sealed class JsonTextTests
{
    [Theory]
    [InlineData("""null""")]
    [InlineData("""[1, 2.5, true, "x"]""")]
    [InlineData("""{"a":{"b":"\u00e9\ud83d\ude00","c":"\\ud800"}}""")] // a pair is one character; an escaped backslash is no escape
    [InlineData("""{"\u00e9":1}""")]
    public void ValidJson_IsValid(string text) => Assert.True(JsonText.IsValid(text));

    [Theory]
    [InlineData("")]
    [InlineData("""{not json""")]
    [InlineData("""1 2""")]
    [InlineData("""{"a":1,}""")]
    [InlineData(""""\ud800"""")]
    [InlineData("""{"a":["ok","\udc00"]}""")]
    [InlineData("""{"\ud800":1}""")]
    [InlineData(""""\ude00\ud83d"""")] // the halves of a pair in the wrong order
    public void SyntaxErrorsAndLoneSurrogates_AreNot(string text) => Assert.False(JsonText.IsValid(text));

    [Fact]
    public void StoredTextNoWriterCouldWrite_IsGivenBackAsAString_NotAsAFailure()
    {
        // Stored before the check (a payload with a lone surrogate): the view still writes, with the text as it is.
        const string stored = """{"k":"\ud800"}""";
        var body = JobRequestBody.From(new JobRequest("noop", stored));
        Assert.Equal(JsonValueKind.String, body.Payload!.Value.ValueKind);
        Assert.Equal(stored, body.Payload.Value.GetString());
        Assert.Contains("\\\\ud800", JsonSerializer.Serialize(body), StringComparison.Ordinal);

        var valid = JobRequestBody.From(new JobRequest("noop", """{"k":"v"}"""));
        Assert.Equal("v", valid.Payload!.Value.GetProperty("k").GetString());
    }
}
