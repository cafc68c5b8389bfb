using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;
using static Microsoft.Playwright.Assertions;

namespace OrleansWorker.Tests.Dashboard;

/// <summary>
/// The dashboard under a path base (<c>/worker/ui/</c>, as behind a reverse proxy that maps <c>/worker</c> to the app)
/// and in read-only mode, in headless Chromium.
/// </summary>
[Collection("dashboard-browser")]
public sealed class DashboardProxiedReadOnlyTests(ProxiedReadOnlyBrowserFixture fixture, ITestOutputHelper output)
    : IClassFixture<ProxiedReadOnlyBrowserFixture>
{
    [Fact]
    public async Task UnderAPathBase_ReadOnly_ShowsJobsWithoutActions_AndRefusesChangesFromItsSession()
    {
        SetDefaultExpectTimeout(30_000);
        using var api = fixture.Worker.Api();
        using (var submitted = await api.PostAsJsonAsync("jobs", new { type = "sleep", id = "ro-running", queue = "read-only", payload = new { ms = 60000 } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        }

        await Poll.UntilAsync(() => api.GetFromJsonAsync<JsonElement>("jobs/ro-running"), j => j.GetProperty("state").GetString() == "Running",
            TimeSpan.FromSeconds(30), "job ro-running to run");

        await using var context = await fixture.NewContextAsync();
        var page = await context.NewPageAsync();
        var requests = new List<string>();
        page.Request += (_, r) => requests.Add(r.Url);

        // Every URL the page uses is relative: sign-in, scripts, the API, all stay under /worker.
        await page.GotoAsync("ui/#/jobs/ro-running");
        await Expect(page).ToHaveURLAsync(new Regex("/worker/ui/signin\\?returnUrl="));
        await page.FillAsync("#key", DashboardHostFactory.Key);
        await page.ClickAsync("button[type=submit]");
        await Expect(page).ToHaveURLAsync(new Regex("/worker/ui/#/jobs/ro-running$"));
        await Expect(page.Locator("#job-state")).ToHaveTextAsync("Running");
        await Expect(page.Locator("#read-only")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-action]")).ToHaveCountAsync(0);
        var cookie = Assert.Single(await context.CookiesAsync(), c => c.Name == "OrleansWorker.Dashboard");
        Assert.Equal("/worker", cookie.Path);
        var outside = requests.Where(u => !new Uri(u).AbsolutePath.StartsWith("/worker/", StringComparison.Ordinal)).ToList();
        Assert.True(outside.Count == 0, "requests outside the path base: " + string.Join(", ", outside));

        await page.GotoAsync("ui/#/dead");
        await Expect(page.Locator("#jobs")).ToBeVisibleAsync();
        await Expect(page.Locator("[data-bulk]")).ToHaveCountAsync(0);

        // Even with the page's own anti-forgery token, a read-only session cannot change a job through the API.
        var status = await page.EvaluateAsync<int>("""
            async () => {
              const s = await (await fetch('session')).json();
              const r = await fetch(s.apiBase + 'jobs/ro-running/cancel', { method: 'POST', headers: { [s.antiforgeryHeader]: s.antiforgeryToken } });
              return r.status;
            }
            """);
        Assert.Equal(403, status);
        var job = await api.GetFromJsonAsync<JsonElement>("jobs/ro-running");
        Assert.Equal("Running", job.GetProperty("state").GetString());
        Assert.False(job.GetProperty("cancelRequested").GetBoolean());
        var shot = Path.Combine(fixture.ScreenshotDirectory, "read-only-job.png");
        await page.ScreenshotAsync(new() { Path = shot, FullPage = true });
        output.WriteLine($"screenshot: {shot}");

        using (await api.PostAsync("jobs/ro-running/cancel", null))
        {
        }
    }
}
