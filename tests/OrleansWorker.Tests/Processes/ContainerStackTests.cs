using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// What can be checked of the container stack without a Docker engine: the Dockerfiles' own publish commands
/// build runnable hosts, the Grafana dashboard only uses metrics a live worker exposes, and the compose,
/// Prometheus, Tempo and Grafana files validate.
/// </summary>
[Collection("processes")]
public sealed partial class ContainerStackTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _publishRoot = Path.Combine(Path.GetTempPath(), "ow-publish-" + Guid.NewGuid().ToString("N"));
    private readonly List<HostProcess> _hosts = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        if (Directory.Exists(_publishRoot))
        {
            Directory.Delete(_publishRoot, recursive: true);
        }
    }

    /// <summary>Runs the Dockerfile's <c>dotnet restore</c> and <c>dotnet publish</c> lines, with <c>/app</c> pointed at a temp folder.</summary>
    private async Task<string> PublishLikeDockerfileAsync(string dockerfile, string dllName)
    {
        var root = HostProcess.RepoRoot();
        var lines = (await File.ReadAllLinesAsync(Path.Combine(root, "docker", dockerfile))).Where(l => l.StartsWith("RUN dotnet ", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        var outDir = Path.Combine(_publishRoot, dllName);
        foreach (var line in lines)
        {
            var args = line["RUN dotnet ".Length..].Replace("-o /app", $"-o {outDir}", StringComparison.Ordinal).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var info = new ProcessStartInfo("dotnet", args) { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
            Assert.True(process.ExitCode == 0, $"`dotnet {string.Join(' ', args)}` failed:\n{await stdout}\n{await stderr}");
        }

        var dll = Path.Combine(outDir, dllName);
        Assert.True(File.Exists(dll), $"{dll} was published");
        return dll;
    }

    [Fact]
    public async Task WorkerImagePublish_Runs_AndServesEveryMetricTheGrafanaDashboardUses()
    {
        var dll = await PublishLikeDockerfileAsync("worker.Dockerfile", "OrleansWorker.Silo.dll");
        var worker = HostProcess.StartSilo("published-worker", redis: null, dll: dll);
        _hosts.Add(worker);
        await worker.WaitReadyAsync();

        // Give every series a sample: a success, a retry, a dead letter.
        using (var response = await worker.Http.PostAsJsonAsync("/jobs/batch", new object[]
        {
            new { type = "noop", id = "m-ok" },
            new { type = "fail", id = "m-retry", payload = new { times = 1 } },
            new { type = "fail", id = "m-dead", payload = new { times = -1 }, maxAttempts = 1 },
        }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        foreach (var id in new[] { "m-ok", "m-retry", "m-dead" })
        {
            await Poll.UntilAsync(() => worker.GetJsonAsync($"/jobs/{id}"), j => j.GetProperty("state").GetString() is "Succeeded" or "DeadLettered", TimeSpan.FromSeconds(30), $"{id} to finish");
        }

        var metrics = await worker.Http.GetStringAsync("/metrics");
        var exposed = metrics.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('{', ' ')[0]).ToHashSet(StringComparer.Ordinal);
        var dashboard = await File.ReadAllTextAsync(Path.Combine(HostProcess.RepoRoot(), "docker", "grafana", "dashboards", "orleansworker-jobs.json"));
        var expressions = JsonDocument.Parse(dashboard).RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.TryGetProperty("targets", out var t) ? t.EnumerateArray() : Enumerable.Empty<JsonElement>())
            .Select(t => t.GetProperty("expr").GetString()!).ToList();
        Assert.NotEmpty(expressions);
        var used = expressions.SelectMany(e => MetricName().Matches(e).Select(m => m.Value))
            .Where(n => n.StartsWith("worker_", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
        output.WriteLine($"dashboard uses: {string.Join(", ", used.Order())}");
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(exposed.Contains(name), $"dashboard metric {name} is exposed by the worker"));
    }

    [Fact]
    public async Task ApiImagePublish_Runs()
    {
        var dll = await PublishLikeDockerfileAsync("api.Dockerfile", "OrleansWorker.Api.dll");
        await using var redis = await RedisServer.StartAsync();
        var worker = HostProcess.StartSilo("worker", redis.ConnectionString);
        _hosts.Add(worker);
        await worker.WaitReadyAsync();
        var api = HostProcess.StartApi(redis.ConnectionString, dll: dll);
        _hosts.Add(api);
        await api.WaitReadyAsync();
        using var response = await api.Http.PostAsJsonAsync("/jobs", new { type = "noop", id = "from-published-api" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task ComposePrometheusTempoGrafanaFiles_Validate()
    {
        var info = new ProcessStartInfo("bash", [Path.Combine(HostProcess.RepoRoot(), "scripts", "check-container-stack.sh")]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        output.WriteLine(await stdout);
        Assert.True(process.ExitCode == 0, $"scripts/check-container-stack.sh failed:\n{await stdout}\n{await stderr}");
        Assert.Contains("OK    docker-compose -f docker-compose.yml config -q", await stdout, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex MetricName();
}
