using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Http;

/// <summary>The worker host (embedded mode) under WebApplicationFactory, with its silo on free ports.</summary>
public sealed class WorkerFactory : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Orleans:Endpoints:SiloPort", RedisServer.FreePort().ToString());
        builder.UseSetting("Orleans:Endpoints:GatewayPort", RedisServer.FreePort().ToString());
        builder.UseSetting("Worker:Embedded:DataDirectory", Path.Combine(Path.GetTempPath(), "ow-data-" + Guid.NewGuid().ToString("N")));
        builder.UseSetting("Worker:MaxPayloadBytes", "1024");
        builder.UseSetting("Worker:RetryBaseDelay", "00:00:00.050");
        builder.UseSetting("Worker:RetryMaxDelay", "00:00:00.100");
    }
}

public sealed class JobEndpointTests(WorkerFactory factory) : IClassFixture<WorkerFactory>
{
    private readonly HttpClient _http = factory.CreateClient();

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<JsonElement> WaitFinishedAsync(string id) =>
        await Poll.UntilAsync(async () => await _http.GetFromJsonAsync<JsonElement>($"/jobs/{id}"),
            j => j.GetProperty("state").GetString() is "Succeeded" or "DeadLettered" or "Cancelled", TimeSpan.FromSeconds(20), $"job {id} to finish");

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(detailContains, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Post_Then_Get_ReturnsView_AndExistingIdReturns200()
    {
        var response = await _http.PostAsync("/jobs", Json("""{"type":"echo","id":"http-echo","payload":{"a":[1,2]},"queue":"q1","priority":3,"maxAttempts":2,"timeoutSeconds":10}"""));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal("/jobs/http-echo", response.Headers.Location?.OriginalString);
        var view = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("http-echo", view.GetProperty("id").GetString());
        Assert.Equal("q1", view.GetProperty("queue").GetString());
        Assert.Equal(3, view.GetProperty("priority").GetInt32());
        Assert.Equal(2, view.GetProperty("maxAttempts").GetInt32());

        var done = await WaitFinishedAsync("http-echo");
        Assert.Equal("Succeeded", done.GetProperty("state").GetString());
        Assert.Equal(2, done.GetProperty("result").GetProperty("a")[1].GetInt32());
        foreach (var field in new[] { "attempt", "createdAt", "runAt", "startedAt", "finishedAt", "progress", "lastError", "traceId" })
        {
            Assert.True(done.TryGetProperty(field, out _), $"view has '{field}'");
        }

        var again = await _http.PostAsync("/jobs", Json("""{"type":"echo","id":"http-echo"}"""));
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
    }

    [Theory]
    [InlineData("""{"type":"echo",""", HttpStatusCode.BadRequest, "not valid JSON")]
    [InlineData("""{"type":"nope"}""", HttpStatusCode.BadRequest, "No handler is registered for job type 'nope'; known types: echo, fail, noop, sleep")]
    [InlineData("""{"type":"noop","id":"bad id!"}""", HttpStatusCode.BadRequest, "id")]
    [InlineData("""{"type":"noop","priority":99999}""", HttpStatusCode.BadRequest, "priority")]
    [InlineData("""{"type":"noop","maxAttempts":101}""", HttpStatusCode.BadRequest, "maxAttempts")]
    [InlineData("""{"type":"noop","timeoutSeconds":-1}""", HttpStatusCode.BadRequest, "timeoutSeconds")]
    [InlineData("""{"type":"noop","delaySeconds":5,"runAt":"2030-01-01T00:00:00Z"}""", HttpStatusCode.BadRequest, "not both")]
    [InlineData("""{"type":"noop","priority":"high"}""", HttpStatusCode.BadRequest, "not valid JSON")]
    [InlineData("""{"type":"noop","delay":3600}""", HttpStatusCode.BadRequest, "The JSON property 'delay' could not be mapped")]
    [InlineData("""{"type":"noop","id":".."}""", HttpStatusCode.BadRequest, "not dots alone")]
    [InlineData("""{"type":"noop","queue":"."}""", HttpStatusCode.BadRequest, "not dots alone")]
    [InlineData("""{"type":"noop","payload":"\ud800"}""", HttpStatusCode.BadRequest, "payload is not valid JSON")]
    [InlineData("""{"type":"noop","payload":{"\udc00":1}}""", HttpStatusCode.BadRequest, "payload is not valid JSON")]
    public async Task Post_BadInput_IsProblemJsonSayingWhat(string body, HttpStatusCode status, string detail) =>
        await AssertProblemAsync(await _http.PostAsync("/jobs", Json(body)), status, detail);

    [Fact]
    public async Task ALoneSurrogateInAPayload_IsRefusedOnEveryRoute_AndNothingIsStored()
    {
        // Stored, it failed every later read of the job (and of any list holding it) with a 500.
        await AssertProblemAsync(await _http.PostAsync("/jobs/batch", Json("""[{"type":"noop","id":"sur-1"},{"type":"noop","id":"sur-2","payload":["\ud800"]}]""")),
            HttpStatusCode.BadRequest, "Item 1");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/jobs/sur-1")).StatusCode);
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"id":"sur-b","jobs":[{"type":"noop","payload":{"k":"\udc00"}}]}""")),
            HttpStatusCode.BadRequest, "not valid JSON");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/batches/sur-b")).StatusCode);
        await AssertProblemAsync(await _http.PutAsync("/schedules/sur-s", Json("""{"cron":"0 3 * * *","job":{"type":"noop","payload":{"k":"\udc00"}}}""")),
            HttpStatusCode.BadRequest, "not valid JSON");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/schedules/sur-s")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/jobs")).StatusCode);
    }

    [Theory]
    [InlineData("/jobs")]
    [InlineData("/jobs/batch")]
    [InlineData("/batches")]
    public async Task ABodyOfAnotherContentType_Is415_SayingWhatToSend(string path)
    {
        using var response = await _http.PostAsync(path, new StringContent("""{"type":"noop"}""", Encoding.UTF8, "text/plain"));
        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "send it as application/json");
    }

    [Fact]
    public async Task Post_PayloadOverLimit_Is413()
    {
        var body = JsonSerializer.Serialize(new { type = "noop", payload = new string('x', 2000) });
        await AssertProblemAsync(await _http.PostAsync("/jobs", Json(body)), HttpStatusCode.RequestEntityTooLarge, "limit is 1024");
    }

    [Fact]
    public async Task Batch_AcceptsWhole_OrRejectsWholeNamingTheItem()
    {
        var ok = await _http.PostAsync("/jobs/batch", Json("""[{"type":"noop","id":"b-1"},{"type":"noop","id":"b-2"}]"""));
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        var items = await ok.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["b-1", "b-2"], items.EnumerateArray().Select(i => i.GetProperty("id").GetString()));

        var bad = await _http.PostAsync("/jobs/batch", Json("""[{"type":"noop","id":"b-3"},{"type":"missing-type","id":"b-4"}]"""));
        await AssertProblemAsync(bad, HttpStatusCode.BadRequest, "Item 1");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/jobs/b-3")).StatusCode);

        var tooMany = JsonSerializer.Serialize(Enumerable.Range(0, 1001).Select(_ => new { type = "noop" }));
        await AssertProblemAsync(await _http.PostAsync("/jobs/batch", Json(tooMany)), HttpStatusCode.BadRequest, "at most 1000");
    }

    [Fact]
    public async Task HugeArraysOfTinyItems_AreRefusedAtTheLimit_AsBadRequests()
    {
        // Two million empty objects (6 MB, within the server's byte limit): refused after the limit's item, not read whole.
        var tiny = "[" + string.Join(',', Enumerable.Repeat("{}", 2_000_000)) + "]";
        await AssertProblemAsync(await _http.PostAsync("/jobs/batch", Json(tiny)), HttpStatusCode.BadRequest, "A batch holds at most 1000 jobs");
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"jobs":""" + tiny + "}")), HttpStatusCode.BadRequest, "A batch has at most 10000 jobs");

        // At the limits themselves the bodies are read, and the items judged one by one.
        var atLimit = "[" + string.Join(',', Enumerable.Repeat("""{"type":"no-such"}""", 1000)) + "]";
        await AssertProblemAsync(await _http.PostAsync("/jobs/batch", Json(atLimit)), HttpStatusCode.BadRequest, "Item 999: No handler is registered for job type 'no-such'");
    }

    [Fact]
    public async Task Get_UnknownOrInvalidId()
    {
        await AssertProblemAsync(await _http.GetAsync("/jobs/does-not-exist"), HttpStatusCode.NotFound, "does-not-exist");
        await AssertProblemAsync(await _http.GetAsync("/jobs/has%20space"), HttpStatusCode.BadRequest, "must be");
    }

    [Fact]
    public async Task List_FiltersAndPages_AndValidatesArguments()
    {
        var ids = Enumerable.Range(0, 5).Select(i => $"list-{i}").ToList();
        await _http.PostAsync("/jobs/batch", Json(JsonSerializer.Serialize(ids.Select(id => new { type = "noop", id, queue = "listing" }))));
        foreach (var id in ids)
        {
            await WaitFinishedAsync(id);
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await _http.GetFromJsonAsync<JsonElement>($"/jobs?queue=listing&state=Succeeded&limit=2{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(ids.OrderBy(i => i), seen.OrderBy(i => i));

        await AssertProblemAsync(await _http.GetAsync("/jobs?state=Bogus"), HttpStatusCode.BadRequest, "state must be");
        await AssertProblemAsync(await _http.GetAsync("/jobs?limit=0"), HttpStatusCode.BadRequest, "limit");

        // Values that do not bind (not numbers) say which parameter and what was sent (they were an empty "Bad Request").
        await AssertProblemAsync(await _http.GetAsync("/jobs?limit=abc"), HttpStatusCode.BadRequest, "Failed to bind parameter \"Nullable<int> limit\" from \"abc\"");
        await AssertProblemAsync(await _http.GetAsync("/jobs/list-0/wait?timeoutSeconds=soon"), HttpStatusCode.BadRequest, "timeoutSeconds");
        await AssertProblemAsync(await _http.GetAsync("/jobs?cursor=garbage"), HttpStatusCode.BadRequest, "cursor");

        // Without a state the listing goes through the states in parts; a page that ends with a part gets the next part's
        // start as its cursor ('1|'), which must be taken back (it was refused for having no '~').
        var nextPart = await _http.GetAsync("/jobs?queue=listing&limit=1&cursor=" + Uri.EscapeDataString("1|"));
        Assert.Equal(HttpStatusCode.OK, nextPart.StatusCode);
        var all = new List<string>();
        cursor = null;
        do
        {
            var page = await _http.GetFromJsonAsync<JsonElement>($"/jobs?queue=listing&limit=1{(cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor))}");
            all.AddRange(page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(ids.OrderBy(i => i), all.OrderBy(i => i));

        // A score the store would refuse as a range bound, and two states at once (which Enum.TryParse reads as a third).
        await AssertProblemAsync(await _http.GetAsync("/jobs?state=Scheduled&cursor=NaN~x"), HttpStatusCode.BadRequest, "cursor 'NaN~x'");
        await AssertProblemAsync(await _http.GetAsync("/jobs?state=Scheduled,Running"), HttpStatusCode.BadRequest, "state must be");
    }

    [Fact]
    public async Task Cancel_Retry_Delete_FollowTheStateRules()
    {
        await _http.PostAsync("/jobs", Json("""{"type":"sleep","id":"cx","payload":{"ms":60000}}"""));
        await Poll.UntilAsync(async () => (await _http.GetFromJsonAsync<JsonElement>("/jobs/cx")).GetProperty("state").GetString() == "Running", TimeSpan.FromSeconds(10), "job cx to run");
        await AssertProblemAsync(await _http.DeleteAsync("/jobs/cx"), HttpStatusCode.Conflict, "only finished");
        await AssertProblemAsync(await _http.PostAsync("/jobs/cx/retry", null), HttpStatusCode.Conflict, "only DeadLettered or Cancelled");
        Assert.Equal(HttpStatusCode.OK, (await _http.PostAsync("/jobs/cx/cancel", null)).StatusCode);
        Assert.Equal("Cancelled", (await WaitFinishedAsync("cx")).GetProperty("state").GetString());
        await AssertProblemAsync(await _http.PostAsync("/jobs/cx/cancel", null), HttpStatusCode.Conflict, "Cancelled");

        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsync("/jobs/cx/retry", null)).StatusCode);
        await Poll.UntilAsync(async () => (await _http.GetFromJsonAsync<JsonElement>("/jobs/cx")).GetProperty("state").GetString() == "Running", TimeSpan.FromSeconds(10), "requeued job cx to run again");
        await _http.PostAsync("/jobs/cx/cancel", null);
        await WaitFinishedAsync("cx");
        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync("/jobs/cx")).StatusCode);
        await AssertProblemAsync(await _http.DeleteAsync("/jobs/cx"), HttpStatusCode.NotFound, "cx");
        await AssertProblemAsync(await _http.PostAsync("/jobs/nope/cancel", null), HttpStatusCode.NotFound, "nope");
    }

    [Fact]
    public async Task Wait_ReturnsFinishedJob_AndValidatesTimeout()
    {
        await _http.PostAsync("/jobs", Json("""{"type":"sleep","id":"w1","payload":{"ms":100}}"""));
        var view = await _http.GetFromJsonAsync<JsonElement>("/jobs/w1/wait?timeoutSeconds=20");
        Assert.Equal("Succeeded", view.GetProperty("state").GetString());
        await AssertProblemAsync(await _http.GetAsync("/jobs/w1/wait?timeoutSeconds=61"), HttpStatusCode.BadRequest, "timeoutSeconds");
    }

    [Fact]
    public async Task Operations_Health_Metrics_Dashboard_OpenApi()
    {
        var health = await _http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var report = await health.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("healthy", report.GetProperty("status").GetString());
        Assert.Equal("Active", report.GetProperty("silo").GetProperty("status").GetString());
        Assert.Equal(1, report.GetProperty("cluster").GetProperty("activeSilos").GetInt32());
        Assert.Equal("healthy", report.GetProperty("checks").GetProperty("orleans").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/health/ready")).StatusCode);

        await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"metrics-1"}"""));
        await WaitFinishedAsync("metrics-1");
        var metrics = await _http.GetStringAsync("/metrics");
        Assert.Contains("worker_jobs_submitted_total", metrics, StringComparison.Ordinal);
        Assert.Contains("worker_jobs_processed_total{type=\"noop\",queue=\"default\",outcome=\"succeeded\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("worker_job_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.Contains("microsoft_orleans_", metrics, StringComparison.Ordinal);
        var lint = await Promtool.CheckMetricsAsync(metrics);
        Assert.True(lint.ExitCode == 0, $"promtool check metrics accepts /metrics: {lint.Output}");

        // No key and no policy: the Orleans dashboard answers only the local machine; TestServer's client has no remote address.
        Assert.Equal(HttpStatusCode.Forbidden, (await _http.GetAsync("/dashboard/")).StatusCode);
        var local = await factory.Server.SendAsync(c =>
        {
            c.Request.Path = "/dashboard/";
            c.Connection.RemoteIpAddress = IPAddress.Loopback;
        });
        Assert.Equal(StatusCodes.Status200OK, local.Response.StatusCode);
        var openApi = await _http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/jobs", out _));
    }

    [Fact]
    public async Task Stats_CountJobsByStateAndQueue_AndListTheSilo()
    {
        var queue = "stats-" + Guid.NewGuid().ToString("N")[..8];
        using (var response = await _http.PostAsync("/jobs/batch", Json($$"""[{"type":"noop","id":"{{queue}}-a","queue":"{{queue}}"},{"type":"noop","id":"{{queue}}-b","queue":"{{queue}}","delaySeconds":3600}]""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await WaitFinishedAsync($"{queue}-a");
        var stats = await Poll.UntilAsync(() => _http.GetFromJsonAsync<JsonElement>("/stats"),
            s => s.GetProperty("silos").GetArrayLength() > 0, TimeSpan.FromSeconds(20), "the silo to report itself");
        var ours = stats.GetProperty("queues").EnumerateArray().Single(q => q.GetProperty("name").GetString() == queue).GetProperty("states");
        Assert.Equal(1, ours.GetProperty("Succeeded").GetInt64());
        Assert.Equal(0, ours.GetProperty("Queued").GetInt64());
        Assert.True(stats.GetProperty("states").GetProperty("Scheduled").GetInt64() >= 1, "the delayed job counts as Scheduled");
        var silo = stats.GetProperty("silos")[0];
        Assert.True(silo.GetProperty("capacity").GetInt32() > 0);
        Assert.False(string.IsNullOrEmpty(silo.GetProperty("address").GetString()));
    }

    [Theory]
    [InlineData("limits-q", """{"maxConcurrency":-1}""", "maxConcurrency must be 1..100000 (was -1)")]
    [InlineData("limits-q", """{"rateLimit":{"limit":10,"periodSeconds":0}}""", "rateLimit.periodSeconds must be 0.001..86400 in whole milliseconds (was 0)")]
    [InlineData("limits-q", """{"rateLimit":{"limit":0,"periodSeconds":1}}""", "rateLimit.limit must be 1..1000000 (was 0)")]
    [InlineData("bad%20name", """{"paused":true}""", "The queue name 'bad name' must be")]
    [InlineData("limits-q", """{"maxConcurency":5}""", "The JSON property 'maxConcurency' could not be mapped")]
    [InlineData("limits-q", """{"rateLimit":{"limit":5,"periodSeconds":1,"burst":9}}""", "The JSON property 'burst' could not be mapped")]
    public async Task QueueSettings_BadValues_Are400_WithTheReason(string queue, string body, string reason)
    {
        using var response = await _http.PutAsync($"/queues/{queue}", Json(body));
        await AssertProblemAsync(response, HttpStatusCode.BadRequest, reason);
    }

    [Fact]
    public async Task QueueSettings_RoundTrip_AndAppearInTheQueueList()
    {
        using (var put = await _http.PutAsync("/queues/settings-q", Json("""{"maxConcurrency":3,"rateLimit":{"limit":100,"periodSeconds":60}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        var queue = await _http.GetFromJsonAsync<JsonElement>("/queues/settings-q");
        Assert.Equal((3, 100, 60.0, false), (queue.GetProperty("maxConcurrency").GetInt32(), queue.GetProperty("rateLimit").GetProperty("limit").GetInt32(),
            queue.GetProperty("rateLimit").GetProperty("periodSeconds").GetDouble(), queue.GetProperty("paused").GetBoolean()));
        var all = await _http.GetFromJsonAsync<JsonElement>("/queues");
        Assert.Contains(all.EnumerateArray(), q => q.GetProperty("name").GetString() == "settings-q");
        using (var cleared = await _http.PutAsync("/queues/settings-q", Json("{}")))
        {
            var body = await cleared.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal((JsonValueKind.Null, JsonValueKind.Null), (body.GetProperty("maxConcurrency").ValueKind, body.GetProperty("rateLimit").ValueKind));
        }

        await AssertProblemAsync(await _http.GetAsync("/queues/no-such-queue"), HttpStatusCode.NotFound, "No queue is named 'no-such-queue'");
    }

    [Fact]
    public async Task UniqueKey_SecondSubmission_ReturnsTheFirstJob_AndBadKeysAre400()
    {
        using var first = await _http.PostAsync("/jobs", Json("""{"type":"sleep","payload":{"ms":2000},"uniqueKey":"invoice:42"}"""));
        using var second = await _http.PostAsync("/jobs", Json("""{"type":"sleep","payload":{"ms":2000},"uniqueKey":"invoice:42"}"""));
        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        Assert.Equal((await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString(), (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
        await AssertProblemAsync(await _http.PostAsync("/jobs", Json("""{"type":"noop","uniqueKey":"has space"}""")), HttpStatusCode.BadRequest, "The uniqueKey 'has space' must be");
        await AssertProblemAsync(await _http.PostAsync("/jobs", Json("""{"type":"noop","uniqueForSeconds":10}""")), HttpStatusCode.BadRequest, "uniqueForSeconds needs a uniqueKey");
    }

    [Fact]
    public async Task Schedules_PutGetListPauseResumeTriggerDelete()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/schedules/http-sched")).StatusCode);
        using (var put = await _http.PutAsync("/schedules/http-sched", Json("""{"cron":"0 3 * * *","timeZone":"Europe/London","job":{"type":"echo","payload":{"r":1},"queue":"reports","maxAttempts":2}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var body = await put.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(("0 3 * * *", "Europe/London", "echo", "reports"), (body.GetProperty("cron").GetString(), body.GetProperty("timeZone").GetString(),
                body.GetProperty("job").GetProperty("type").GetString(), body.GetProperty("job").GetProperty("queue").GetString()));
            Assert.Equal(JsonValueKind.String, body.GetProperty("nextFire").ValueKind);
            Assert.Equal(JsonValueKind.Null, body.GetProperty("lastFire").ValueKind);
            Assert.Equal("FireOnce", body.GetProperty("misfire").GetString());
        }

        var list = await _http.GetFromJsonAsync<JsonElement>("/schedules");
        Assert.Contains(list.EnumerateArray(), s => s.GetProperty("id").GetString() == "http-sched");

        var paused = await (await _http.PostAsync("/schedules/http-sched/pause", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(paused.GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, paused.GetProperty("nextFire").ValueKind);

        using (var trigger = await _http.PostAsync("/schedules/http-sched/trigger", null))
        {
            Assert.Equal(HttpStatusCode.Accepted, trigger.StatusCode);
            var body = await trigger.Content.ReadFromJsonAsync<JsonElement>();
            var jobId = body.GetProperty("lastFire").GetProperty("jobId").GetString()!;
            Assert.StartsWith("http-sched::manual-", jobId, StringComparison.Ordinal);
            var job = await WaitFinishedAsync(jobId);
            Assert.Equal(("Succeeded", "http-sched", 1), (job.GetProperty("state").GetString(), job.GetProperty("scheduleId").GetString(), job.GetProperty("result").GetProperty("r").GetInt32()));
        }

        var resumed = await (await _http.PostAsync("/schedules/http-sched/resume", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(resumed.GetProperty("paused").GetBoolean());
        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync("/schedules/http-sched")).StatusCode);
        await AssertProblemAsync(await _http.GetAsync("/schedules/http-sched"), HttpStatusCode.NotFound, "No schedule has the id 'http-sched'");
        await AssertProblemAsync(await _http.PostAsync("/schedules/http-sched/trigger", null), HttpStatusCode.NotFound, "No schedule has the id 'http-sched'");
    }

    [Theory]
    [InlineData("""{"cron":"61 * * * *","job":{"type":"noop"}}""", "cron '61 * * * *' is not valid")]
    [InlineData("""{"cron":"* * *","job":{"type":"noop"}}""", "has 3")]
    [InlineData("""{"cron":"0 3 * * *","timeZone":"Mars/Olympus","job":{"type":"noop"}}""", "timeZone 'Mars/Olympus' is not a known IANA time zone")]
    [InlineData("""{"cron":"0 3 * * *","job":{"type":"no-such-type"}}""", "job.type: No handler is registered for job type 'no-such-type'")]
    [InlineData("""{"cron":"0 3 * * *","misfire":"Sometimes","job":{"type":"noop"}}""", "not valid JSON for this request")]
    [InlineData("""{"job":{"type":"noop"}}""", "at least 'cron' and 'job'")]
    public async Task Schedules_BadDefinitions_Are400WithTheReason(string body, string reason)
    {
        await AssertProblemAsync(await _http.PutAsync("/schedules/bad-sched", Json(body)), HttpStatusCode.BadRequest, reason);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/schedules/bad-sched")).StatusCode);
    }

    [Fact]
    public async Task Dependencies_ChainRunsInOrder_AndBadOnesAre400NamingThem()
    {
        using (var response = await _http.PostAsync("/jobs/batch", Json("""[{"type":"sleep","id":"dep-a","payload":{"ms":300}},{"type":"noop","id":"dep-b","dependsOn":["dep-a"],"queue":"other"}]""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var items = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Waiting", items[1].GetProperty("state").GetString());
        }

        var b = await WaitFinishedAsync("dep-b");
        var a = await WaitFinishedAsync("dep-a");
        Assert.Equal(("Succeeded", "Succeeded"), (a.GetProperty("state").GetString(), b.GetProperty("state").GetString()));
        Assert.Equal("dep-a", b.GetProperty("dependsOn")[0].GetString());
        Assert.True(b.GetProperty("startedAt").GetDateTimeOffset() >= a.GetProperty("finishedAt").GetDateTimeOffset(), "b started after a finished");

        await AssertProblemAsync(await _http.PostAsync("/jobs", Json("""{"type":"noop","dependsOn":["no-such-job","dep-a"]}""")), HttpStatusCode.BadRequest, "No job has the id 'no-such-job'");
        await AssertProblemAsync(await _http.PostAsync("/jobs/batch", Json("""[{"type":"noop","id":"cyc-1","dependsOn":["cyc-2"]},{"type":"noop","id":"cyc-2","dependsOn":["cyc-1"]}]""")),
            HttpStatusCode.BadRequest, "'cyc-2' comes later in this submission");
        await AssertProblemAsync(await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"self","dependsOn":["self"]}""")), HttpStatusCode.BadRequest, "cannot depend on itself");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/jobs/cyc-1")).StatusCode);
    }

    [Fact]
    public async Task Batches_WithAMemberWhoseIdIsTaken_Are409_AndStoreNothing()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"bx::a"}"""))).StatusCode);

        var response = await _http.PostAsync("/batches", Json("""{"id":"bx","jobs":[{"type":"noop","id":"bx::new"},{"type":"noop","id":"bx::a"}]}"""));

        await AssertProblemAsync(response, HttpStatusCode.Conflict, "A job with the id 'bx::a' exists already");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/batches/bx")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/jobs/bx::new")).StatusCode);
    }

    [Fact]
    public async Task ABatchsCompletionId_IsNotGivenToAnotherJob_EitherWayRound()
    {
        // A job first: the batch that would name it its completion is a 409, nothing of it stored.
        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"bc1::complete"}"""))).StatusCode);
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"id":"bc1","jobs":[{"type":"noop"}],"completion":{"type":"noop"}}""")),
            HttpStatusCode.Conflict, "A job with the id 'bc1::complete' exists already: that is the id of this batch's completion job");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/batches/bc1")).StatusCode);

        // The batch first: a job submitted under its completion's id is refused.
        Assert.Equal(HttpStatusCode.Accepted, (await _http.PostAsync("/batches", Json("""{"id":"bc2","jobs":[{"type":"sleep","payload":{"ms":50}}],"completion":{"type":"noop"}}"""))).StatusCode);
        await AssertProblemAsync(await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"bc2::complete"}""")), HttpStatusCode.BadRequest, "'bc2::complete' is the id of batch 'bc2''s completion job");
    }

    [Fact]
    public async Task Batches_RunTheCompletionJobOnceAllFinished()
    {
        using (var response = await _http.PostAsync("/batches", Json("""{"id":"http-batch","jobs":[{"type":"noop"},{"type":"fail","payload":{"times":9},"maxAttempts":1},{"type":"sleep","payload":{"ms":200}}],"completion":{"type":"echo","queue":"done"}}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal("/batches/http-batch", response.Headers.Location?.OriginalString);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(3, body.GetProperty("batch").GetProperty("total").GetInt32());
            Assert.Equal("http-batch::0,http-batch::1,http-batch::2", string.Join(",", body.GetProperty("jobs").EnumerateArray().Select(j => j.GetProperty("id").GetString())));
        }

        using var completion = await Poll.UntilAsync(() => _http.GetAsync("/jobs/http-batch::complete"), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "the batch's completion job");
        var done = await WaitFinishedAsync("http-batch::complete");
        var result = done.GetProperty("result");
        Assert.Equal(("http-batch", 3, 2, 1, 0), (result.GetProperty("batchId").GetString(), result.GetProperty("total").GetInt32(), result.GetProperty("succeeded").GetInt32(),
            result.GetProperty("deadLettered").GetInt32(), result.GetProperty("cancelled").GetInt32()));
        var batch = await _http.GetFromJsonAsync<JsonElement>("/batches/http-batch");
        Assert.True(batch.GetProperty("finished").GetBoolean());
        Assert.Equal((2, 1, 0), (batch.GetProperty("states").GetProperty("Succeeded").GetInt32(), batch.GetProperty("states").GetProperty("DeadLettered").GetInt32(), batch.GetProperty("pending").GetInt32()));
        Assert.Equal("http-batch", (await _http.GetFromJsonAsync<JsonElement>("/jobs/http-batch::0")).GetProperty("batchId").GetString());

        using (var same = await _http.PostAsync("/batches", Json("""{"id":"http-batch","jobs":[{"type":"noop"},{"type":"fail","payload":{"times":9},"maxAttempts":1},{"type":"sleep","payload":{"ms":200}}],"completion":{"type":"echo","queue":"done"}}""")))
        {
            Assert.Equal(HttpStatusCode.OK, same.StatusCode); // the same submission again: the batch as it is
            Assert.All((await same.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobs").EnumerateArray(), j => Assert.False(j.GetProperty("created").GetBoolean()));
        }

        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"id":"http-batch","jobs":[{"type":"noop"},{"type":"noop"},{"type":"noop"},{"type":"noop"}]}""")), HttpStatusCode.Conflict, "exists already");
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync("/jobs/http-batch::3")).StatusCode);
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"jobs":[{"type":"noop","uniqueKey":"k"}]}""")), HttpStatusCode.BadRequest, "no uniqueKey");
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"id":"bad batch","jobs":[{"type":"noop"}]}""")), HttpStatusCode.BadRequest, "The batch id 'bad batch'");
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"id":"..","jobs":[{"type":"noop"}]}""")), HttpStatusCode.BadRequest, "The batch id '..'");
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"jobs":[{"type":"noop","id":"elsewhere"}]}""")), HttpStatusCode.BadRequest, "starts with the batch id");
        await AssertProblemAsync(await _http.PostAsync("/batches", Json("""{"jobs":[{"type":"noop"}],"completion":{"type":"nope"}}""")), HttpStatusCode.BadRequest, "'nope'");
        await AssertProblemAsync(await _http.GetAsync("/batches/no-such-batch"), HttpStatusCode.NotFound, "No batch has the id 'no-such-batch'");

        var openApi = await _http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        foreach (var path in new[] { "/schedules", "/schedules/{id}", "/schedules/{id}/trigger", "/batches", "/batches/{id}" })
        {
            Assert.True(openApi.GetProperty("paths").TryGetProperty(path, out _), $"OpenAPI documents {path}");
        }

    }
}
