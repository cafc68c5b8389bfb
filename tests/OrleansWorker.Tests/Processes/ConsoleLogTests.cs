using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// The default console output of a real worker process (no <c>Logging__Console__*</c> settings): every line of a job
/// is one line with a UTC timestamp and the job's trace id — the <c>traceId</c> of <c>GET /jobs/{id}</c>, and the
/// trace the exporter sends to Tempo when one is configured.
/// </summary>
[Collection("processes")]
public sealed partial class ConsoleLogTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
    }

    private async Task<HostProcess> StartSiloAsync(IDictionary<string, string>? extra = null)
    {
        var silo = HostProcess.StartSilo("silo", redis: null, extra);
        _owned.Add(silo);
        await silo.WaitReadyAsync();
        return silo;
    }

    private static async Task SubmitAsync(HostProcess silo, string json, string? traceParent = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        if (traceParent is not null)
        {
            request.Headers.Add("traceparent", traceParent);
        }

        using var response = await silo.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private static Task<JsonElement> SucceededAsync(HostProcess silo, string id) =>
        Poll.UntilAsync(() => silo.GetJsonAsync($"/jobs/{id}"), j => j.GetProperty("state").GetString() == "Succeeded", TimeSpan.FromSeconds(30), $"job {id} to succeed");

    /// <summary>The job's lines once its completion line is out (the console logger writes on a background thread).</summary>
    private static async Task<List<string>> JobLinesAsync(HostProcess silo, string id)
    {
        var completion = $"Job {id} of type ";
        await Poll.UntilAsync(() => silo.Output.Split('\n').Any(l => l.Contains(completion, StringComparison.Ordinal) && l.Contains(" completed: ", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), $"the completion line of job {id} in the worker's console output");
        return silo.Output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Contains($"Job {id} ", StringComparison.Ordinal)).ToList();
    }

    /// <summary>Asserts every line is one whole entry with its UTC timestamp and names <paramref name="traceId"/> and no other trace.</summary>
    private void AssertEachLineNamesOnly(IReadOnlyList<string> lines, string traceId)
    {
        foreach (var line in lines)
        {
            output.WriteLine(line);
            Assert.Matches(EntryStart(), line);
            var named = TraceIdOnLine().Matches(line).Select(m => m.Groups[1].Value).ToList();
            Assert.True(named.Count > 0, $"the line names a trace id: {line}");
            Assert.All(named, t => Assert.Equal(traceId, t));
        }
    }

    [Fact]
    public async Task DefaultConsole_EveryLineOfAJob_NamesTheJobsTraceId()
    {
        var silo = await StartSiloAsync();
        var traceId = Guid.NewGuid().ToString("N");
        await SubmitAsync(silo, """{"type":"fail","id":"log-retried","payload":{"times":1}}""", $"00-{traceId}-{Guid.NewGuid().ToString("N")[..16]}-01");
        await SubmitAsync(silo, """{"type":"echo","id":"log-untraced","payload":{"a":1}}""");

        // A submitter's traceparent: the job keeps that trace; its failed attempt and the retry both log it.
        var retried = await SucceededAsync(silo, "log-retried");
        Assert.Equal(traceId, retried.GetProperty("traceId").GetString());
        var lines = await JobLinesAsync(silo, "log-retried");
        Assert.Equal(2, lines.Count);
        Assert.Contains("failed: attempt 1 of 5 ended Failed; retrying at", lines[0], StringComparison.Ordinal);
        Assert.Contains("System.InvalidOperationException", lines[0], StringComparison.Ordinal);
        Assert.Contains("completed: attempt 2 succeeded", lines[1], StringComparison.Ordinal);
        AssertEachLineNamesOnly(lines, traceId);

        // No traceparent: the trace the worker's request started, as stored on the job.
        var untraced = await SucceededAsync(silo, "log-untraced");
        var stored = untraced.GetProperty("traceId").GetString();
        Assert.Matches("^[0-9a-f]{32}$", stored);
        var completed = Assert.Single(await JobLinesAsync(silo, "log-untraced"));
        Assert.Contains("completed: attempt 1 succeeded", completed, StringComparison.Ordinal);
        AssertEachLineNamesOnly([completed], stored!);
    }

    [Fact]
    public async Task DefaultConsole_WithAnExporter_NamesTheTraceAndSpanTheExporterSends()
    {
        await using var otlp = new OtlpReceiver();
        var silo = await StartSiloAsync(otlp.Environment("worker"));
        await SubmitAsync(silo, """{"type":"echo","id":"log-exported","payload":{"a":1}}""");
        var job = await SucceededAsync(silo, "log-exported");
        var traceId = job.GetProperty("traceId").GetString()!;

        var span = await Poll.UntilAsync(() => Task.FromResult(otlp.Spans.Where(s => s.Attributes.TryGetValue("job.id", out var id) && (string)id == "log-exported").ToList()),
            l => l.Count == 1, TimeSpan.FromSeconds(30), "the attempt span of job log-exported over OTLP");
        Assert.Equal(traceId, span[0].TraceId);

        var completed = Assert.Single(await JobLinesAsync(silo, "log-exported"));
        AssertEachLineNamesOnly([completed], traceId);
        var spanIds = SpanIdOnLine().Matches(completed).Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(spanIds);
        Assert.All(spanIds, s => Assert.Equal(span[0].SpanId, s));
    }

    /// <summary>The simple formatter's single line: UTC timestamp, level, category and event id.</summary>
    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (info|warn|fail): OrleansWorker\.Jobs\[\d+\] ")]
    private static partial Regex EntryStart();

    [GeneratedRegex(@"TraceId:([0-9a-f]*)")]
    private static partial Regex TraceIdOnLine();

    [GeneratedRegex(@"SpanId:([0-9a-f]*)")]
    private static partial Regex SpanIdOnLine();
}
