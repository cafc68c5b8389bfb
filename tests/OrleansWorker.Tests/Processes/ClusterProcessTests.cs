using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>redis-server, two worker processes and the API process, over real HTTP.</summary>
[Collection("processes")]
public sealed class ClusterProcessTests(ITestOutputHelper output) : ProcessClusterTest
{
    [Fact]
    public async Task Api_SubmitsToCluster_JobsReadableFromBothWorkers_OperationsEndpointsServe()
    {
        var w1 = await Cluster.StartSiloAsync("worker-1");
        var w2 = await Cluster.StartSiloAsync("worker-2");
        var api = await Cluster.StartApiAsync();

        var ids = Enumerable.Range(0, 20).Select(i => $"api-{i}").ToList();
        using (var batch = await api.Http.PostAsJsonAsync("/jobs/batch", ids.Select(id => new { type = "echo", id, payload = new { id } })))
        {
            Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        }

        using (var single = await api.Http.PostAsJsonAsync("/jobs", new { type = "noop", id = "api-single" }))
        {
            Assert.Equal(HttpStatusCode.Accepted, single.StatusCode);
            Assert.Equal("/jobs/api-single", single.Headers.Location?.OriginalString);
        }

        var viaApi = await api.GetJsonAsync("/jobs/api-single/wait?timeoutSeconds=20");
        Assert.Equal("Succeeded", viaApi.GetProperty("state").GetString());
        foreach (var worker in new[] { w1, w2 })
        {
            foreach (var id in ids)
            {
                var job = await Poll.UntilAsync(() => worker.GetJsonAsync($"/jobs/{id}"), j => j.GetProperty("state").GetString() == "Succeeded", TimeSpan.FromSeconds(30), $"{id} to read back Succeeded from {worker.Name}");
                Assert.Equal(id, job.GetProperty("result").GetProperty("id").GetString());
            }
        }

        var silosThatRan = ids.Select(id => w1.GetJsonAsync($"/jobs/{id}").Result.GetProperty("attempts")[0].GetProperty("silo").GetString()!).Distinct().Count();
        output.WriteLine($"{ids.Count} jobs submitted through the API ran on {silosThatRan} silo(s).");

        foreach (var host in new[] { w1, w2, api })
        {
            var health = await host.GetJsonAsync("/health");
            Assert.Equal("healthy", health.GetProperty("status").GetString());
            Assert.Equal(2, health.GetProperty("cluster").GetProperty("activeSilos").GetInt32());
            Assert.Equal("healthy", health.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        }

        Assert.Equal(JsonValueKind.Null, (await api.GetJsonAsync("/health")).GetProperty("silo").ValueKind);
        Assert.Equal("Active", (await w1.GetJsonAsync("/health")).GetProperty("silo").GetProperty("status").GetString());

        // Counters summed over the silos equal what the cluster did.
        var processed = 0.0;
        foreach (var worker in new[] { w1, w2 })
        {
            var metrics = await worker.Http.GetStringAsync("/metrics");
            var lint = await Promtool.CheckMetricsAsync(metrics);
            Assert.True(lint.ExitCode == 0, $"promtool check metrics accepts {worker.Name}'s /metrics: {lint.Output}");
            processed += Promtool.Sum(metrics, "worker_jobs_processed_total", "outcome=\"succeeded\"");
        }

        Assert.Equal(ids.Count + 1, processed);

        using var dashboard = await w2.Http.GetAsync("/dashboard/");
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("<html", await dashboard.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task RedisDown_ApiAnswers503WithReason_HealthReportsIt_AndProcessingResumes()
    {
        var worker = await Cluster.StartSiloAsync("worker");
        var api = await Cluster.StartApiAsync();
        await Cluster.Redis.StopProcessAsync();

        var clock = Stopwatch.StartNew();
        using var refused = await api.Http.PostAsJsonAsync("/jobs", new { type = "noop", id = "during-outage" });
        output.WriteLine($"POST /jobs during the Redis outage answered {(int)refused.StatusCode} after {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.False(string.IsNullOrEmpty((await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the API answered within its deadline (took {clock.Elapsed.TotalSeconds:0.0} s)");

        using var health = await worker.Http.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var report = await health.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("unhealthy", report.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());

        await Cluster.Redis.StartProcessAsync();
        await Poll.UntilAsync(async () => (await worker.Http.GetAsync("/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "worker /health to recover after Redis came back");
        var accepted = await Poll.UntilAsync(() => api.Http.PostAsJsonAsync("/jobs", new { type = "noop", id = "after-outage" }), r => r.StatusCode == HttpStatusCode.Accepted, TimeSpan.FromSeconds(30), "the API to accept jobs again");
        accepted.Dispose();
        var job = await Poll.UntilAsync(() => api.GetJsonAsync("/jobs/after-outage"), j => j.GetProperty("state").GetString() == "Succeeded", TimeSpan.FromSeconds(30), "the job submitted after the outage to succeed");
        Assert.Equal(1, job.GetProperty("attempt").GetInt32());
    }

    [Fact]
    public async Task InvalidConfiguration_StopsAtStart_ListingEveryProblem()
    {
        await using var silo = HostProcess.StartSilo("bad-config", null, new Dictionary<string, string>
        {
            ["Worker__MaxConcurrentJobs"] = "0",
            ["Worker__DefaultMaxAttempts"] = "500",
            ["Worker__RetryBaseDelay"] = "00:10:00",
            ["Worker__RetryMaxDelay"] = "00:01:00",
        });
        await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.NotEqual(0, silo.ExitCode);
        Assert.Contains("Worker:MaxConcurrentJobs must be 1..100000 (was 0)", silo.Output, StringComparison.Ordinal);
        Assert.Contains("Worker:DefaultMaxAttempts must be 1..100 (was 500)", silo.Output, StringComparison.Ordinal);
        Assert.Contains("Worker:RetryMaxDelay", silo.Output, StringComparison.Ordinal);
    }
}
