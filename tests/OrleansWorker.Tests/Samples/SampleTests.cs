using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Samples;

/// <summary>
/// samples/Reports built from the packed packages (not project references), run as two processes — the worker and
/// the web app — with a job of each handler checked end to end. A broken package breaks this test.
/// </summary>
[Collection("processes")]
public sealed class SampleTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "ow-sample-" + Guid.NewGuid().ToString("N"));
    private readonly List<HostProcess> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        TempDirectory.Delete(_root);
    }

    private static string Samples => Path.Combine(HostProcess.RepoRoot(), "samples");

    [Fact]
    public async Task ReportsSample_BuiltFromPackages_RunsAJobOfEachHandler()
    {
        var version = await PackagedBuild.PackAsync();
        foreach (var project in new[] { "Reports.Worker", "Reports.Web" })
        {
            var build = await Shell.RunAsync("dotnet", ["build", Path.Combine(Samples, project, project + ".csproj"), "-c", "Release", $"-p:OrleansWorkerVersion={version}", "--nologo", "-v", "q"], TimeSpan.FromMinutes(10));
            Assert.True(build.Succeeded, $"building {project} against the packages {version} failed: {build}");
        }

        // The handler project references OrleansWorker.Abstractions and nothing else of ours.
        using (var assets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(Samples, "Reports.Jobs", "obj", "project.assets.json"))))
        {
            var ours = assets.RootElement.GetProperty("libraries").EnumerateObject().Select(p => p.Name).Where(n => n.StartsWith("OrleansWorker.", StringComparison.Ordinal)).ToList();
            Assert.Equal([$"OrleansWorker.Abstractions/{version}"], ours);
        }

        var (siloPort, gatewayPort) = (RedisServer.FreePort(), RedisServer.FreePort());
        var outputDirectory = Path.Combine(_root, "reports");
        var worker = Start("Reports.Worker", new()
        {
            ["Reports__SiloPort"] = siloPort.ToString(), ["Reports__GatewayPort"] = gatewayPort.ToString(),
            ["Reports__DataDirectory"] = Path.Combine(_root, "data"), ["Reports__OutputDirectory"] = outputDirectory,
        });
        var web = Start("Reports.Web", new() { ["Reports__GatewayPort"] = gatewayPort.ToString() });
        await Poll.UntilAsync(async () => (await worker.Http.GetAsync("/")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the sample worker to answer");
        await Poll.UntilAsync(async () => (await web.Http.GetAsync("/hooks/received")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the sample web app to answer");

        // report.render: a file of 1,000 rows and a typed result.
        var report = await PostAsync(web, "/reports", new { title = "Q3", rows = 1000 });
        var rendered = await Poll.UntilAsync(() => web.GetJsonAsync($"/reports/{report}"), j => j.GetProperty("state").GetString() is "Succeeded" or "DeadLettered",
            TimeSpan.FromSeconds(60), "the report job to finish");
        Assert.Equal("Succeeded", rendered.GetProperty("state").GetString());
        var path = rendered.GetProperty("report").GetProperty("path").GetString()!;
        Assert.StartsWith(outputDirectory, path, StringComparison.Ordinal);
        Assert.Equal(1001, (await File.ReadAllLinesAsync(path)).Length);

        // webhook.call against the web app's receiver, which answers 429 first: deferred, not an attempt used up.
        var hook = await PostAsync(web, "/webhooks", new { url = $"http://127.0.0.1:{web.HttpPort}/hooks/receive", body = new { hello = "world" } });
        var called = await Poll.UntilAsync(() => worker.GetJsonAsync($"/jobs/{hook}"), j => j.GetProperty("state").GetString() == "Succeeded", TimeSpan.FromSeconds(60), "the webhook job to succeed");
        Assert.Equal(["RateLimited", "Succeeded"], called.GetProperty("attempts").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
        Assert.Equal(200, called.GetProperty("result").GetProperty("status").GetInt32());
        Assert.Equal(2, (await web.GetJsonAsync("/hooks/received")).GetProperty(hook).GetInt32());

        // customers.import: progress while it runs, then cancelled.
        var import = await PostAsync(web, "/imports", new { batches = 200, batchMilliseconds = 100 });
        var running = await Poll.UntilAsync(() => web.GetJsonAsync($"/imports/{import}"), j => j.GetProperty("progress").ValueKind == JsonValueKind.Object && j.GetProperty("progress").GetProperty("percent").GetInt32() > 0,
            TimeSpan.FromSeconds(60), "the import to report progress");
        output.WriteLine($"import progress: {running.GetProperty("progress")}");
        using (var cancel = await web.Http.PostAsync($"/imports/{import}/cancel", null))
        {
            Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        }

        var cancelled = await Poll.UntilAsync(() => worker.GetJsonAsync($"/jobs/{import}"), j => j.GetProperty("state").GetString() == "Cancelled", TimeSpan.FromSeconds(30), "the import to end Cancelled");
        Assert.Equal("Cancelled", cancelled.GetProperty("attempts")[0].GetProperty("outcome").GetString());
        output.WriteLine($"RESULT sample {version}: report {path} (1000 rows), webhook deferred once by 429 then 200, import cancelled at {running.GetProperty("progress").GetProperty("percent")}%");
    }

    private HostProcess Start(string project, Dictionary<string, string> env)
    {
        var host = HostProcess.StartApp(project, Path.Combine(Samples, project, "bin", "Release", "net10.0", project + ".dll"), env);
        _hosts.Add(host);
        return host;
    }

    private static async Task<string> PostAsync(HostProcess via, string path, object body)
    {
        using var response = await via.Http.PostAsJsonAsync(path, body);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }
}
