using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Dashboard;

/// <summary>The shipped hosts as real processes: both map the jobs dashboard at /ui and say at start who may open it.</summary>
[Collection("processes")]
public sealed class DashboardHostsTests : ProcessClusterTest
{
    [Fact]
    public async Task WorkerAndApiHosts_ServeTheDashboard_AndLogWhoMayOpenIt()
    {
        var silo = await Cluster.StartSiloAsync("dashboard-silo");
        var api = await Cluster.StartApiAsync(new Dictionary<string, string> { ["Worker__ApiKey"] = "hosts-key" });

        // The worker, no key: served to this machine (the test is local), and the log says how to open it to others.
        using (var page = await silo.Http.GetAsync("/ui/"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("<script src=\"app.js\" defer></script>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        await Poll.UntilAsync(() => silo.Output.Contains("jobs dashboard at /ui answers only requests from this machine", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the worker's start-up log line about the local-only dashboard");

        // The API host, with a key: nothing without it, the session with it; the files themselves are open.
        using (var anonymous = await api.Http.GetAsync("/ui/session"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, "/ui/session") { Headers = { { "X-Api-Key", "hosts-key" } } })
        using (var session = await api.Http.SendAsync(request))
        {
            Assert.Equal(HttpStatusCode.OK, session.StatusCode);
            var body = await session.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("../", body.GetProperty("apiBase").GetString());
            Assert.False(body.GetProperty("readOnly").GetBoolean());
        }

        using (var script = await api.Http.GetAsync("/ui/app.js"))
        {
            Assert.Equal(HttpStatusCode.OK, script.StatusCode);
            Assert.StartsWith("text/javascript", script.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        }

        await Poll.UntilAsync(() => api.Output.Contains("jobs dashboard at /ui: sign in with the API key", StringComparison.Ordinal),
            TimeSpan.FromSeconds(20), "the API host's start-up log line about signing in with the key");
    }
}
