using System.Net;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>One trace from the API request to every attempt, received over real OTLP/HTTP from real processes.</summary>
[Collection("processes")]
public sealed class TracingTests(ITestOutputHelper output) : ProcessClusterTest
{
    private const int ServerKind = 2;
    private const int ErrorStatus = 2;
    private OtlpReceiver _otlp = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _otlp = new OtlpReceiver();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _otlp.DisposeAsync();
    }

    private Task<HostProcess> StartSiloAsync(string name)
    {
        var env = _otlp.Environment("worker");
        env["Worker__RetryBaseDelay"] = "00:00:00.200";
        env["Worker__RetryMaxDelay"] = "00:00:00.400";
        env["Logging__Console__FormatterName"] = "json";
        return Cluster.StartSiloAsync(name, env);
    }

    private Task<HostProcess> StartApiAsync()
    {
        return Cluster.StartApiAsync(_otlp.Environment("api"));
    }

    private static (string TraceParent, string TraceId, string ParentSpanId) NewTraceParent()
    {
        var traceId = Guid.NewGuid().ToString("N");
        var spanId = Guid.NewGuid().ToString("N")[..16];
        return ($"00-{traceId}-{spanId}-01", traceId, spanId);
    }

    private static async Task SubmitAsync(HostProcess api, string traceParent, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/jobs") { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add("traceparent", traceParent);
        using var response = await api.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    private Task<List<ReceivedSpan>> AttemptSpansAsync(string jobId, int count) =>
        Poll.UntilAsync(() => Task.FromResult(_otlp.Spans.Where(s => s.Attributes.TryGetValue("job.id", out var id) && (string)id == jobId).ToList()),
            l => l.Count >= count, TimeSpan.FromSeconds(30), $"{count} attempt spans of job {jobId} to arrive over OTLP");

    [Fact]
    public async Task RetriedJob_AllAttemptsInTheSubmittersTrace_ChainReachesApiRequest_ErrorsMarked_LogsCarryTraceId()
    {
        var a = await StartSiloAsync("silo-a");
        var b = await StartSiloAsync("silo-b");
        var api = await StartApiAsync();
        var (traceParent, traceId, callerSpan) = NewTraceParent();
        const string id = "traced-retry";
        await SubmitAsync(api, traceParent, $$$"""{"type":"fail","id":"{{{id}}}","payload":{"times":2},"maxAttempts":5}""");

        var job = await Poll.UntilAsync(() => api.GetJsonAsync($"/jobs/{id}"), j => j.GetProperty("state").GetString() == "Succeeded", TimeSpan.FromSeconds(30), "the retried job to succeed");
        Assert.Equal(traceId, job.GetProperty("traceId").GetString());

        var attempts = (await AttemptSpansAsync(id, 3)).OrderBy(s => (long)s.Attributes["job.attempt"]).ToList();
        Assert.Equal(3, attempts.Count);
        Assert.All(attempts, s =>
        {
            Assert.Equal(traceId, s.TraceId);
            Assert.Equal("worker", s.Service);
            Assert.Equal("fail", s.Name);
            Assert.Equal("fail", s.Attributes["job.type"]);
            Assert.Equal("default", s.Attributes["job.queue"]);
            Assert.Equal(5L, s.Attributes["job.max_attempts"]);
        });
        Assert.Equal([1L, 2L, 3L], attempts.Select(s => (long)s.Attributes["job.attempt"]));
        Assert.All(attempts.Take(2), s =>
        {
            Assert.Equal(ErrorStatus, s.StatusCode);
            Assert.Contains("exception", s.Events);
        });
        Assert.NotEqual(ErrorStatus, attempts[2].StatusCode);

        var trace = await Poll.UntilAsync(() => Task.FromResult(_otlp.Spans.Where(s => s.TraceId == traceId).ToList()),
            l => l.Any(s => s.Service == "api" && s.Kind == ServerKind), TimeSpan.FromSeconds(30), "the API's request span to arrive");
        Assert.Contains(trace, s => s.Service == "api");
        Assert.Contains(trace, s => s.Service == "worker");
        var byId = trace.GroupBy(s => s.SpanId).ToDictionary(g => g.Key, g => g.First());
        foreach (var attempt in attempts)
        {
            var chain = new List<ReceivedSpan>();
            var current = attempt;
            while (byId.TryGetValue(current.ParentSpanId, out var parent))
            {
                chain.Add(parent);
                current = parent;
            }

            output.WriteLine($"attempt {attempt.Attributes["job.attempt"]}: " + string.Join(" ← ", chain.Select(s => $"{s.Service}:{s.Name}")));
            var root = chain.LastOrDefault();
            Assert.True(root is { Service: "api", Kind: ServerKind }, $"attempt {attempt.Attributes["job.attempt"]}'s parent chain reaches the API request span");
            Assert.Equal(callerSpan, root!.ParentSpanId);
        }

        // Exemplars: the duration histogram points at the attempt's trace when Prometheus asks for OpenMetrics.
        var exemplars = new List<string>();
        foreach (var silo in new[] { a, b })
        {
            using var openMetrics = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            openMetrics.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
            var exposition = await (await silo.Http.SendAsync(openMetrics)).Content.ReadAsStringAsync();
            exemplars.AddRange(exposition.Split('\n').Where(l => l.StartsWith("worker_job_duration_seconds_bucket{type=\"fail\"", StringComparison.Ordinal) && l.Contains($"trace_id=\"{traceId}\"", StringComparison.Ordinal)));
        }

        Assert.True(exemplars.Count > 0, $"a duration bucket of the fail jobs carries the exemplar of trace {traceId}");

        var lines = (a.Output + b.Output).Split('\n').Where(l => l.Contains($"job {id}", StringComparison.Ordinal) || l.Contains($"Job {id}", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count >= 3, $"the workers logged each attempt's end: two failures and the completion (found {lines.Count} lines)");
        Assert.All(lines, l => Assert.Contains(traceId, l, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("\"JobId\":\"" + id + "\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AttemptAfterSiloKill_JoinsTheSameTrace()
    {
        var silos = new[] { await StartSiloAsync("silo-a"), await StartSiloAsync("silo-b") };
        var api = await StartApiAsync();
        var (traceParent, traceId, _) = NewTraceParent();
        const string id = "traced-kill";
        await SubmitAsync(api, traceParent, $$$"""{"type":"sleep","id":"{{{id}}}","payload":{"ms":8000}}""");
        var running = await Poll.UntilAsync(() => api.GetJsonAsync($"/jobs/{id}"), j => j.GetProperty("state").GetString() == "Running", TimeSpan.FromSeconds(20), "the job to run");
        var owner = running.GetProperty("silo").GetString()!;
        var victim = silos.Single(s => owner.StartsWith($"127.0.0.1:{s.SiloPort}@", StringComparison.Ordinal));
        var survivor = silos.Single(s => s != victim);
        victim.Kill();

        var done = await Poll.UntilAsync(() => survivor.GetJsonAsync($"/jobs/{id}"), j => j.GetProperty("state").GetString() == "Succeeded", TimeSpan.FromSeconds(60), $"the job to succeed on {survivor.Name} after {victim.Name} was killed");
        var rerun = Assert.Single(await AttemptSpansAsync(id, 1));
        Assert.Equal(traceId, rerun.TraceId);
        Assert.Equal("worker", rerun.Service);

        // The cut-short attempt was an interruption (the silo died), not a failure: the re-run keeps attempt number 1.
        Assert.Equal(1L, rerun.Attributes["job.attempt"]);
        Assert.Equal(1, done.GetProperty("interruptions").GetInt32());
        Assert.Equal(["Interrupted", "Succeeded"], done.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
    }
}
