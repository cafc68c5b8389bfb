using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace OrleansWorker.Tests.Dashboard;

/// <summary>
/// The jobs dashboard (/ui) in headless Chromium, driven by Playwright, against the real worker host on a TCP port with
/// real jobs. Each test saves screenshots of the pages it visits (the directory is printed).
/// </summary>
[Collection("dashboard-browser")]
public sealed partial class DashboardUiTests : IClassFixture<DashboardBrowserFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly DashboardBrowserFixture _fixture;
    private readonly ITestOutputHelper _output;
    private readonly HttpClient _api;
    private IBrowserContext _context = null!;
    private IPage _page = null!;

    public DashboardUiTests(DashboardBrowserFixture fixture, ITestOutputHelper output)
    {
        _fixture = fixture;
        _output = output;
        _api = fixture.Worker.Api();
        SetDefaultExpectTimeout(30_000);
    }

    public async Task InitializeAsync()
    {
        _context = await _fixture.NewContextAsync();
        _page = await _context.NewPageAsync();
        _page.Dialog += (_, dialog) => _ = dialog.AcceptAsync();
        _page.Console += (_, message) => _output.WriteLine($"[browser {message.Type}] {message.Text}");
    }

    public async Task DisposeAsync()
    {
        await _context.DisposeAsync();
        _api.Dispose();
    }

    [Fact]
    public async Task ApiKey_NoCookieGetsSignIn_WrongKeyIsRefused_ForgedPostsAreRejected()
    {
        // No cookie: the page sends the browser to sign in; the data endpoints answer 401 and nothing else.
        await _page.GotoAsync("ui/");
        await Expect(_page).ToHaveURLAsync(new Regex("/ui/signin\\?returnUrl="));
        var session = await _context.APIRequest.GetAsync("ui/session");
        Assert.Equal(401, session.Status);
        var jobs = await _context.APIRequest.GetAsync("jobs");
        Assert.Equal(401, jobs.Status);
        Assert.DoesNotContain("\"items\"", await jobs.TextAsync(), StringComparison.Ordinal);

        await ShotAsync("signin");

        // The Orleans dashboard is guarded the same way: no cookie, the same sign-in page.
        await _page.GotoAsync("dashboard/");
        await Expect(_page).ToHaveURLAsync(new Regex("/ui/signin\\?returnUrl=..%2Fdashboard%2F"));

        // A sign-in link that would send the browser elsewhere afterwards (an open redirect) lands on the dashboard instead.
        await _page.GotoAsync("ui/signin?returnUrl=" + Uri.EscapeDataString("https://evil.example/steal"));

        // The wrong key: 401, the page says so, no cookie.
        await _page.FillAsync("#key", "not-the-key");
        var refused = await _page.RunAndWaitForResponseAsync(() => _page.ClickAsync("button[type=submit]"), r => r.Url.Contains("/ui/signin", StringComparison.Ordinal) && r.Request.Method == "POST");
        Assert.Equal(401, refused.Status);
        await Expect(_page.Locator("#error")).ToContainTextAsync("not the API key");
        Assert.DoesNotContain(await _context.CookiesAsync(), c => c.Name == "OrleansWorker.Dashboard");

        // The right key: the overview, and a cookie the page's scripts cannot read, sent to this site only.
        await _page.FillAsync("#key", DashboardHostFactory.Key);
        await _page.ClickAsync("button[type=submit]");
        await Expect(_page).ToHaveURLAsync(_fixture.Worker.BaseUri + "ui/");
        await Expect(_page.Locator("#state-counts .card")).ToHaveCountAsync(7);
        var cookie = Assert.Single(await _context.CookiesAsync(), c => c.Name == "OrleansWorker.Dashboard");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain(DashboardHostFactory.Key, cookie.Value, StringComparison.Ordinal);
        Assert.Equal(string.Empty, await _page.EvaluateAsync<string>("() => document.cookie.includes('OrleansWorker.Dashboard') ? 'readable' : ''"));
        var orleansDashboard = await _page.GotoAsync("dashboard/");
        Assert.Equal(200, orleansDashboard!.Status);
        await _page.GotoAsync("ui/");
        await Expect(_page.Locator("#live")).ToHaveTextAsync("live");

        // With the cookie, a state-changing request without the anti-forgery token (what another site could forge) is refused, and changes nothing.
        var id = await SubmitAsync(new { type = "sleep", id = "forged-target", queue = "forged", payload = new { ms = 60000 } });
        await WaitStateAsync(id, "Running");
        var forged = await _context.APIRequest.PostAsync($"jobs/{id}/cancel");
        Assert.Equal(400, forged.Status);
        Assert.Contains("Anti-forgery", await forged.TextAsync(), StringComparison.Ordinal);
        var forgedWithWrongToken = await _context.APIRequest.PostAsync($"jobs/{id}/cancel", new() { Headers = new Dictionary<string, string> { ["RequestVerificationToken"] = "forged" } });
        Assert.Equal(400, forgedWithWrongToken.Status);
        Assert.Equal("Running", (await GetJobAsync(id)).GetProperty("state").GetString());
        Assert.False((await GetJobAsync(id)).GetProperty("cancelRequested").GetBoolean());

        // A forged sign-in form (right key, no token) and a forged sign-out are refused too.
        var forgedSignIn = await _context.APIRequest.PostAsync("ui/signin", new() { Form = FormOf(("key", DashboardHostFactory.Key)) });
        Assert.Equal(400, forgedSignIn.Status);
        var forgedSignOut = await _context.APIRequest.PostAsync("ui/signout");
        Assert.Equal(400, forgedSignOut.Status);
        Assert.Single(await _context.CookiesAsync(), c => c.Name == "OrleansWorker.Dashboard");

        // Sign out (the page's own button, with its token): the cookie is gone and the page asks to sign in again.
        await _page.ClickAsync("#signout");
        await Expect(_page).ToHaveURLAsync(new Regex("/ui/signin"));
        Assert.DoesNotContain(await _context.CookiesAsync(), c => c.Name == "OrleansWorker.Dashboard");
        await CancelAsync(id);
    }

    [Fact]
    public async Task Overview_CountsByStateAndQueue_MatchTheStatsApi_AndSilosShowTheirRunningJobs()
    {
        foreach (var i in Enumerable.Range(0, 3))
        {
            await SubmitAsync(new { type = "echo", id = $"ov-ok-{i}", queue = "overview", payload = new { i } });
        }

        FlakyHandler.Break("overview");
        await SubmitAsync(new { type = "flaky", id = "ov-dead", queue = "overview", maxAttempts = 1, payload = new { key = "overview" } });
        var running = await SubmitAsync(new { type = "sleep", id = "ov-running", queue = "overview-slow", payload = new { ms = 60000 } });
        await WaitStateAsync("ov-ok-2", "Succeeded");
        await WaitStateAsync("ov-dead", "DeadLettered");
        await WaitStateAsync(running, "Running");

        await SignInAsync();
        await Expect(_page.Locator("#silos tbody tr[data-silo]")).ToHaveCountAsync(1);
        await Expect(_page.Locator($"#silos a[href='#/jobs/{running}']")).ToBeVisibleAsync();

        // Nothing else runs, so the figures are still; the page refreshes on its own until it shows what /stats says.
        var (ui, api) = await Poll.UntilAsync(async () => (Ui: await UiCountsAsync(), Api: await ApiCountsAsync()), c => c.Ui == c.Api,
            Deadline, "the overview's counts to equal GET /stats");
        _output.WriteLine($"overview = /stats: {ui}");
        Assert.Contains("overview|Succeeded=3", api, StringComparison.Ordinal);
        Assert.Contains("overview|DeadLettered=1", api, StringComparison.Ordinal);
        Assert.Contains("overview-slow|Running=1", api, StringComparison.Ordinal);
        var stats = await _api.GetFromJsonAsync<JsonElement>("stats");
        var silo = stats.GetProperty("silos")[0];
        await Expect(_page.Locator("#silos td[data-field=running]")).ToContainTextAsync($"/ {silo.GetProperty("capacity").GetInt32()}");
        await ShotAsync("overview");
        await CancelAsync(running);
        FlakyHandler.Fix("overview");
    }

    [Fact]
    public async Task DeadLetteredJob_RetriedFromItsPage_ReachesSucceeded()
    {
        FlakyHandler.Break("dead-letter");
        var id = await SubmitAsync(new { type = "flaky", id = "dl-retry", queue = "dead-letters", maxAttempts = 1, payload = new { key = "dead-letter" } });
        await WaitStateAsync(id, "DeadLettered");

        await SignInAsync("#/dead");
        var row = _page.Locator($"#jobs tr[data-id='{id}']");
        await Expect(row).ToContainTextAsync("flaky: 'dead-letter' is broken.");
        await ShotAsync("dead-letters");

        await row.Locator($"a[href='#/jobs/{id}']").ClickAsync();
        await Expect(_page.Locator("#job-state")).ToHaveTextAsync("DeadLettered");
        await Expect(_page.Locator("#attempts tbody tr[data-attempt]")).ToHaveCountAsync(1);
        await Expect(_page.Locator("#attempts td[data-outcome]")).ToHaveTextAsync("Failed");
        await Expect(_page.Locator("#attempts details pre")).ToContainTextAsync("FlakyHandler.ExecuteAsync");
        await Expect(_page.Locator("#trace-link")).ToHaveAttributeAsync("href", new Regex("^http://grafana\\.test/explore\\?trace=[0-9a-f]{32}$"));
        await _page.Locator("#attempts details summary").ClickAsync();
        await ShotAsync("job-dead-lettered");

        // The cause is fixed; the operator retries the job from its page.
        FlakyHandler.Fix("dead-letter");
        await _page.ClickAsync("[data-action=retry]");
        await Expect(_page.Locator("#job-state")).ToHaveTextAsync("Succeeded");
        await Expect(_page.Locator("#attempts tbody tr[data-attempt]")).ToHaveCountAsync(2);
        Assert.Equal("Succeeded", (await GetJobAsync(id)).GetProperty("state").GetString());
        await ShotAsync("job-succeeded");
    }

    [Fact]
    public async Task DeadLetters_RetryAllSelected_FromTheList()
    {
        FlakyHandler.Break("bulk");
        var ids = new List<string>();
        foreach (var i in Enumerable.Range(0, 3))
        {
            ids.Add(await SubmitAsync(new { type = "flaky", id = $"dl-bulk-{i}", queue = "bulk-dead", maxAttempts = 1, payload = new { key = "bulk" } }));
        }

        foreach (var id in ids)
        {
            await WaitStateAsync(id, "DeadLettered");
        }

        await SignInAsync("#/dead?queue=bulk-dead");
        await Expect(_page.Locator("#jobs tbody tr[data-id]")).ToHaveCountAsync(3);
        FlakyHandler.Fix("bulk");
        await _page.CheckAsync("#select-all");
        await Expect(_page.Locator("#selected-count")).ToHaveTextAsync("3 selected");
        await _page.ClickAsync("[data-bulk=retry]");
        await Expect(_page.Locator("#notice")).ToContainTextAsync("Requeued 3 of 3.");
        await Expect(_page.Locator("#jobs tbody tr[data-id]")).ToHaveCountAsync(0);
        foreach (var id in ids)
        {
            await WaitStateAsync(id, "Succeeded");
        }
    }

    [Fact]
    public async Task RunningSleepJob_CancelledFromTheUi_EndsCancelled()
    {
        var id = await SubmitAsync(new { type = "sleep", id = "ui-cancel", queue = "cancel", payload = new { ms = 60000 } });
        await WaitStateAsync(id, "Running");

        // Found by the search box (job id), from the overview.
        await SignInAsync();
        await _page.FillAsync("#search-id", id);
        await _page.PressAsync("#search-id", "Enter");
        await Expect(_page).ToHaveURLAsync(new Regex($"/ui/#/jobs/{id}$"));
        await Expect(_page.Locator("#job-state")).ToHaveTextAsync("Running");
        await Expect(_page.Locator("#attempts td[data-outcome=Running]")).ToHaveTextAsync("running");
        await ShotAsync("job-running");

        await _page.ClickAsync("[data-action=cancel]");
        await Expect(_page.Locator("#job-state")).ToHaveTextAsync("Cancelled");
        Assert.Equal("Cancelled", (await GetJobAsync(id)).GetProperty("state").GetString());
    }

    [Fact]
    public async Task RunningJob_ItsPageShowsProgress_AndFollowsItWithoutReloading()
    {
        var id = await SubmitAsync(new { type = "steps", id = "ui-progress", queue = "progress" });
        await Poll.UntilAsync(() => GetJobAsync(id), j => j.GetProperty("progress").ValueKind == JsonValueKind.Object, Deadline, $"job {id} to report progress");

        await SignInAsync($"#/jobs/{id}");
        var progress = _page.Locator("#progress");
        await Expect(progress).ToContainTextAsync("40%");
        await Expect(progress).ToContainTextAsync("first half");
        await ShotAsync("job-progress");

        StepsHandler.Advance();
        await Expect(progress).ToContainTextAsync("80%");
        await Expect(progress).ToContainTextAsync("second half");
        Assert.Equal(80, (await GetJobAsync(id)).GetProperty("progress").GetProperty("percent").GetInt32());
        await CancelAsync(id);
    }

    [Fact]
    public async Task ThroughputChart_MovesWhileJobsRun()
    {
        await SignInAsync();
        var chart = _page.Locator("#throughput");

        // Before: the cluster is idle, so the chart's latest point is 0 succeeded/s. The predicates allow for the moment
        // the overview is (re)rendered and the chart or the rate is not in the page yet.
        await _page.WaitForFunctionAsync("""
            () => {
              const chart = document.getElementById('throughput'), rate = document.querySelector('[data-rate=succeeded]');
              if (!chart || !rate) return false;
              const s = JSON.parse(chart.dataset.series || '[]');
              return s.length >= 2 && s[s.length - 1].s === 0 && rate.textContent === '0.0';
            }
            """, null, new() { Timeout = 30_000 });

        var jobs = Enumerable.Range(0, 400).Select(i => new { type = "sleep", id = $"chart-{i}", queue = "chart", payload = new { ms = 100 } }).ToList();
        using (var response = await _api.PostAsJsonAsync("jobs/batch", jobs))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        // While they run, the chart's latest points rise above 0 without reloading the page.
        await _page.WaitForFunctionAsync("() => { const c = document.getElementById('throughput'); return !!c && JSON.parse(c.dataset.series || '[]').some(p => p.s > 0); }",
            null, new() { Timeout = 30_000 });
        await Expect(_page.Locator("[data-rate=succeeded]")).Not.ToHaveTextAsync("0.0");
        var series = JsonSerializer.Deserialize<JsonElement>(await chart.GetAttributeAsync("data-series") ?? "[]");
        _output.WriteLine($"chart: {series}");
        await ShotAsync("overview-live");
        await WaitStateAsync("chart-399", "Succeeded", TimeSpan.FromSeconds(90));

        await _page.GotoAsync("ui/#/jobs?queue=chart");
        await Expect(_page.Locator("#jobs tbody tr[data-id]")).ToHaveCountAsync(50);
        await ShotAsync("jobs");
        await _page.ClickAsync("[data-page=next]");
        await Expect(_page.Locator("#jobs tbody tr[data-id]")).ToHaveCountAsync(50);
        await Expect(_page.Locator(".pager")).ToContainTextAsync("page 2");
    }

    [Fact]
    public async Task SchedulesAndQueues_PauseResumeTrigger_FromTheUi()
    {
        using (var put = await _api.PutAsJsonAsync("schedules/ui-nightly", new { cron = "0 3 * * *", timeZone = "Europe/Paris", job = new { type = "noop", queue = "nightly" } }))
        {
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        await SignInAsync("#/schedules");
        var row = _page.Locator("#schedules tr[data-schedule='ui-nightly']");
        await Expect(row.Locator("td").Nth(3)).ToHaveTextAsync("no");
        await row.Locator("button", new() { HasText = "Pause" }).ClickAsync();
        await Expect(row.Locator("td").Nth(3)).ToHaveTextAsync("yes");
        Assert.True((await _api.GetFromJsonAsync<JsonElement>("schedules/ui-nightly")).GetProperty("paused").GetBoolean());
        await row.Locator("button", new() { HasText = "Resume" }).ClickAsync();
        await Expect(row.Locator("td").Nth(3)).ToHaveTextAsync("no");
        await row.Locator("button", new() { HasText = "Trigger now" }).ClickAsync();
        await Expect(row).ToContainTextAsync("ui-nightly::");
        await ShotAsync("schedules");

        await _page.GotoAsync("ui/#/queues");
        var queue = _page.Locator("#queues tr[data-queue='nightly']");
        await Expect(queue.Locator("td").Nth(1)).ToHaveTextAsync("no");
        await queue.Locator("button", new() { HasText = "Pause" }).ClickAsync();
        await Expect(queue.Locator("td").Nth(1)).ToHaveTextAsync("yes");
        Assert.True((await _api.GetFromJsonAsync<JsonElement>("queues/nightly")).GetProperty("paused").GetBoolean());
        await ShotAsync("queues");
        await queue.Locator("button", new() { HasText = "Resume" }).ClickAsync();
        await Expect(queue.Locator("td").Nth(1)).ToHaveTextAsync("no");
    }

    private async Task SignInAsync(string hash = "")
    {
        await _page.GotoAsync("ui/" + hash);
        await Expect(_page).ToHaveURLAsync(new Regex("/ui/signin"));
        await _page.FillAsync("#key", DashboardHostFactory.Key);
        await _page.ClickAsync("button[type=submit]");
        await Expect(_page).ToHaveURLAsync(new Regex("/ui/" + Regex.Escape(hash) + "$"));

        // The page says "connecting…" until the app's first refresh: only then are its handlers (the search box's among
        // them) attached. A URL match alone comes at the navigation's commit, before the deferred script has run, and a
        // search submitted then is the browser's own form submission.
        await Expect(_page.Locator("#live")).ToHaveTextAsync("live");
    }

    private async Task<string> UiCountsAsync()
    {
        var cards = await _page.Locator("#state-counts [data-state] .n").EvaluateAllAsync<string[]>(
            "els => els.map(e => e.closest('[data-state]').dataset.state + '=' + e.dataset.count)");
        var queues = await _page.Locator("#queue-counts td[data-state]").EvaluateAllAsync<string[]>(
            "els => els.filter(e => e.dataset.count !== '0').map(e => e.closest('tr').dataset.queue + '|' + e.dataset.state + '=' + e.dataset.count)");
        return string.Join(" ", cards.Order(StringComparer.Ordinal)) + " ; " + string.Join(" ", queues.Order(StringComparer.Ordinal));
    }

    private async Task<string> ApiCountsAsync()
    {
        var stats = await _api.GetFromJsonAsync<JsonElement>("stats");
        var states = new[] { "Queued", "Scheduled", "Running", "Waiting", "Succeeded", "DeadLettered", "Cancelled" };
        var cards = states.Select(s => $"{s}={(stats.GetProperty("states").TryGetProperty(s, out var n) ? n.GetInt64() : 0)}");
        var queues = stats.GetProperty("queues").EnumerateArray().SelectMany(q => q.GetProperty("states").EnumerateObject()
            .Where(p => p.Value.GetInt64() != 0).Select(p => $"{q.GetProperty("name").GetString()}|{p.Name}={p.Value.GetInt64()}"));
        return string.Join(" ", cards.Order(StringComparer.Ordinal)) + " ; " + string.Join(" ", queues.Order(StringComparer.Ordinal));
    }

    private async Task<string> SubmitAsync(object job)
    {
        using var response = await _api.PostAsJsonAsync("jobs", job);
        Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"submit: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private Task<JsonElement> GetJobAsync(string id) => _api.GetFromJsonAsync<JsonElement>($"jobs/{id}");

    private Task<JsonElement> WaitStateAsync(string id, string state, TimeSpan? timeout = null) =>
        Poll.UntilAsync(() => GetJobAsync(id), j => j.GetProperty("state").GetString() == state, timeout ?? Deadline, $"job {id} to be {state}");

    private async Task CancelAsync(string id)
    {
        using var response = await _api.PostAsync($"jobs/{id}/cancel", null);
        await WaitStateAsync(id, "Cancelled");
    }

    private IFormData FormOf(params (string Name, string Value)[] fields)
    {
        var form = _context.APIRequest.CreateFormData();
        foreach (var (name, value) in fields)
        {
            form.Set(name, value);
        }

        return form;
    }

    private async Task ShotAsync(string name)
    {
        var path = Path.Combine(_fixture.ScreenshotDirectory, name + ".png");
        await _page.ScreenshotAsync(new() { Path = path, FullPage = true });
        _output.WriteLine($"screenshot: {path}");
    }
}
