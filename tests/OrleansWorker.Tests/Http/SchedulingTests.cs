using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace OrleansWorker.Tests.Http;

/// <summary>
/// The HTTP side of recurring jobs, continuations and batches (issue 13), on the in-process worker host: what is refused
/// with a 400 saying why — bad cron, unknown time zone, unknown or misordered dependencies — and that nothing of a refused
/// request is stored. (Behaviour with real processes: <c>Processes.SchedulingTests</c>.)
/// </summary>
public sealed class SchedulingTests(WorkerFactory factory) : IClassFixture<WorkerFactory>
{
    private readonly HttpClient _http = factory.CreateClient();

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task AssertBadRequestAsync(HttpResponseMessage response, params string[] detailContains)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400, got {(int)response.StatusCode} {body}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var detail = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString();
            foreach (var part in detailContains)
            {
                Assert.Contains(part, detail, StringComparison.Ordinal);
            }
        }
    }

    private async Task AssertNotFoundAsync(string path)
    {
        using var response = await _http.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Theory]
    [InlineData("bad-cron", """{"cron":"61 * * * *","job":{"type":"noop"}}""", "cron '61 * * * *' is not valid")]
    [InlineData("cron-words", """{"cron":"every minute","job":{"type":"noop"}}""", "cron 'every minute'")]
    [InlineData("seven-fields", """{"cron":"0 0 * * * * 2030","job":{"type":"noop"}}""", "5 fields")]
    [InlineData("bad-zone", """{"cron":"0 * * * *","timeZone":"Mars/Olympus_Mons","job":{"type":"noop"}}""", "timeZone 'Mars/Olympus_Mons' is not a known IANA time zone")]
    [InlineData("unknown-type", """{"cron":"0 * * * *","job":{"type":"no-such-handler"}}""", "job.type")]
    [InlineData("job-with-deps", """{"cron":"0 * * * *","job":{"type":"noop","dependsOn":["x"]}}""", "dependsOn")]
    [InlineData("zone-directory", """{"cron":"0 * * * *","timeZone":"America","job":{"type":"noop"}}""", "timeZone 'America' is not a known IANA time zone")]
    [InlineData("far-start", """{"cron":"0 23 * * *","timeZone":"America/New_York","startAt":"9999-12-31T12:00:00Z","job":{"type":"noop"},"paused":true}""", "startAt (9999-12-31T12:00:00.0000000+00:00) must be before 9999-01-01")]
    [InlineData("feb-30", """{"cron":"0 0 30 2 *","job":{"type":"noop"}}""", "cron '0 0 30 2 *' never fires: no date matches it.")]
    [InlineData("ends-first", """{"cron":"0 * * * *","startAt":"2030-01-02T00:00:00Z","endAt":"2030-01-01T00:00:00Z","job":{"type":"noop"}}""", "endAt")]
    public async Task PutSchedule_Invalid_Is400SayingWhy_AndStoresNothing(string id, string body, string detail)
    {
        await AssertBadRequestAsync(await _http.PutAsync($"/schedules/{id}", Json(body)), detail);
        await AssertNotFoundAsync($"/schedules/{id}");
    }

    [Fact]
    public async Task PutSchedule_WithH_FiresAtAMinuteOfItsOwn_TheSameEveryTime()
    {
        // Jenkins' H: once an hour at a minute taken from the schedule's id (Cronos refused it without a seed: a 500).
        var first = await PutAndReadNextFireAsync("hashed-hourly", """{"cron":"H * * * *","job":{"type":"noop"}}""");
        Assert.Equal((0, 0), (first.Second, first.Millisecond));
        Assert.True(first > DateTimeOffset.UtcNow && first <= DateTimeOffset.UtcNow.AddHours(1), $"next fire {first:O} within the hour");
        Assert.Equal(first, await PutAndReadNextFireAsync("hashed-hourly", """{"cron":"H * * * *","job":{"type":"noop","payload":{"v":2}}}"""));
        var minutes = new List<int>();
        foreach (var id in new[] { "hashed-a", "hashed-b", "hashed-c", "hashed-d" })
        {
            minutes.Add((await PutAndReadNextFireAsync(id, """{"cron":"H H * * *","job":{"type":"noop"},"paused":false}""")).Minute);
            using var deleted = await _http.DeleteAsync($"/schedules/{id}");
        }

        Assert.True(minutes.Distinct().Count() > 1, $"four ids, minutes {string.Join(",", minutes)}: spread, not all alike");
        using var cleanup = await _http.DeleteAsync("/schedules/hashed-hourly");
    }

    private async Task<DateTimeOffset> PutAndReadNextFireAsync(string id, string body)
    {
        using var put = await _http.PutAsync($"/schedules/{id}", Json(body));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var view = await put.Content.ReadFromJsonAsync<JsonElement>();
        return view.GetProperty("nextFire").GetDateTimeOffset();
    }

    [Fact]
    public async Task PutSchedule_Valid_WithZone_IsListed_ThenDeleted()
    {
        using (var put = await _http.PutAsync("/schedules/london-daily", Json("""{"cron":"30 2 * * *","timeZone":"Europe/London","job":{"type":"noop"},"paused":true}""")))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            var view = await put.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("Europe/London", view.GetProperty("timeZone").GetString());
            Assert.True(view.GetProperty("paused").GetBoolean());
            Assert.Equal(JsonValueKind.Null, view.GetProperty("nextFire").ValueKind);
        }

        var list = await _http.GetFromJsonAsync<JsonElement>("/schedules");
        Assert.Contains(list.EnumerateArray(), s => s.GetProperty("id").GetString() == "london-daily");
        using (var deleted = await _http.DeleteAsync("/schedules/london-daily"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        await AssertNotFoundAsync("/schedules/london-daily");
    }

    [Fact]
    public async Task Post_UnknownDependency_Is400NamingOnlyTheUnknownOne()
    {
        using (var known = await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"dep-known"}""")))
        {
            Assert.Equal(HttpStatusCode.Accepted, known.StatusCode);
        }

        using var response = await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"dep-orphan","dependsOn":["dep-known","no-such-job"]}"""));
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(body).RootElement;
        var detail = problem.GetProperty("detail").GetString()!;
        Assert.Contains("'no-such-job'", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("'dep-known'", detail, StringComparison.Ordinal);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray());
        Assert.Equal("dependsOn", error.GetProperty("field").GetString());
        Assert.Equal("unknown_dependency", error.GetProperty("code").GetString());
        await AssertNotFoundAsync("/jobs/dep-orphan");
    }

    [Fact]
    public async Task Batch_DependencyListedLater_OrOnItself_Is400_AndStoresNothing_WhileTheRightOrderIsAccepted()
    {
        await AssertBadRequestAsync(
            await _http.PostAsync("/jobs/batch", Json("""[{"type":"noop","id":"order-1::b","dependsOn":["order-1::a"]},{"type":"noop","id":"order-1::a"}]""")),
            "'order-1::a' comes later in this submission");
        await AssertNotFoundAsync("/jobs/order-1::a");
        await AssertNotFoundAsync("/jobs/order-1::b");

        await AssertBadRequestAsync(await _http.PostAsync("/jobs", Json("""{"type":"noop","id":"self-1","dependsOn":["self-1"]}""")), "'self-1' cannot depend on itself");
        await AssertNotFoundAsync("/jobs/self-1");

        using var ok = await _http.PostAsync("/jobs/batch", Json("""[{"type":"noop","id":"order-2::a"},{"type":"echo","id":"order-2::b","dependsOn":["order-2::a"]}]"""));
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
        var items = await ok.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Waiting", items[1].GetProperty("state").GetString());
    }

    [Fact]
    public async Task PostBatch_MemberWithUnknownDependency_Is400NamingIt_AndStoresNoBatch()
    {
        await AssertBadRequestAsync(
            await _http.PostAsync("/batches", Json("""{"id":"bad-batch","jobs":[{"type":"noop"},{"type":"noop","dependsOn":["ghost-job"]}],"completion":{"type":"echo"}}""")),
            "'ghost-job'");
        await AssertNotFoundAsync("/batches/bad-batch");
        await AssertNotFoundAsync("/jobs/bad-batch::0");
    }
}
