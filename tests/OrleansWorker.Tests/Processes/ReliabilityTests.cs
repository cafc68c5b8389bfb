using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// The failure scenarios of docs/reliability.md, with real processes. Each prints a line "RESULT …" with its figures.
/// </summary>
[Collection("processes")]
public sealed class ReliabilityTests(ITestOutputHelper output) : ProcessClusterTest
{
    private void Report(string line) => output.WriteLine("RESULT " + line);

    private static Dictionary<string, string> Capacity(int max) => new() { ["Worker__MaxConcurrentJobs"] = max.ToString() };

    private static async Task SubmitBatchesAsync(HostProcess api, IReadOnlyList<object> jobs, int batchSize = 200)
    {
        foreach (var chunk in jobs.Chunk(batchSize))
        {
            using var response = await api.Http.PostAsJsonAsync("/jobs/batch", chunk);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
    }

    private static Task<List<JsonElement>> WaitAllSucceededAsync(HostProcess via, string queue, int count, TimeSpan timeout) =>
        Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(via, queue), l => l.Count == count && l.All(j => j.GetProperty("state").GetString() == "Succeeded"),
            timeout, $"all {count} jobs of queue {queue} to succeed");

    private static List<JsonElement> Attempts(JsonElement job) => job.GetProperty("attempts").EnumerateArray().ToList();

    [Fact]
    public async Task Scenario1_Kill9_OneOfThreeSilos_Under2000SleepJobs()
    {
        var silos = new[] { await Cluster.StartSiloAsync("silo-1", Capacity(20)), await Cluster.StartSiloAsync("silo-2", Capacity(20)), await Cluster.StartSiloAsync("silo-3", Capacity(20)) };
        var api = await Cluster.StartApiAsync();
        var random = new Random(2026);
        var jobs = Enumerable.Range(0, 2000).Select(i => (object)new { type = "sleep", id = $"s1-{i}", queue = "s1", payload = new { ms = random.Next(50, 201) } }).ToList();
        await SubmitBatchesAsync(api, jobs);

        var victim = silos[1];
        await Poll.UntilAsync(async () => (await ProcessCluster.ListQueueAsync(api, "s1")).Any(j => j.GetProperty("silo").GetString()?.StartsWith(ProcessCluster.SiloPrefix(victim), StringComparison.Ordinal) == true),
            TimeSpan.FromSeconds(30), "silo-2 to be running some jobs");
        victim.Kill();
        var killedAt = DateTimeOffset.UtcNow;

        var finished = await WaitAllSucceededAsync(api, "s1", 2000, TimeSpan.FromSeconds(120));
        var rerun = finished.Where(j => Attempts(j).Count > 1).ToList();
        var unexplained = rerun.Where(job =>
        {
            var attempts = Attempts(job);
            return attempts.Count != 2 || attempts[0].GetProperty("outcome").GetString() != "Interrupted"
                || !attempts[0].GetProperty("silo").GetString()!.StartsWith(ProcessCluster.SiloPrefix(victim), StringComparison.Ordinal);
        }).Select(j => $"{j.GetProperty("id")}: {j.GetProperty("attempts")}").ToList();
        Assert.True(unexplained.Count == 0, $"every job run twice was cut short on the killed silo {ProcessCluster.SiloPrefix(victim)}; not so:\n{string.Join("\n", unexplained.Take(5))}");

        var recovery = rerun.Select(j => Attempts(j)[1].GetProperty("startedAt").GetDateTimeOffset() - killedAt).DefaultIfEmpty(TimeSpan.Zero).ToList();
        Assert.NotEmpty(rerun);
        Report($"scenario 1: jobs 2000, lost 0, executed twice {rerun.Count} (each an attempt cut short by the kill, recorded Interrupted on silo-2), " +
               $"recovery {recovery.Min().TotalSeconds:0.0}-{recovery.Max().TotalSeconds:0.0} s after kill -9");
    }

    [Fact]
    public async Task Scenario3_ScaleOut_NewSilosProcessJobs_NoPortChanges()
    {
        var first = await Cluster.StartSiloAsync("silo-1", Capacity(5));
        var api = await Cluster.StartApiAsync();
        var before = (await first.GetJsonAsync("/health")).GetProperty("silo").GetProperty("address").GetString();

        using var stop = new CancellationTokenSource();
        var submitted = 0;
        var flow = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var batch = Enumerable.Range(0, 20).Select(_ => new { type = "sleep", id = $"s3-{Interlocked.Increment(ref submitted)}", queue = "s3", payload = new { ms = 100 } }).ToList();
                using var response = await api.Http.PostAsJsonAsync("/jobs/batch", batch, CancellationToken.None);
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                await Task.Delay(100, CancellationToken.None);
            }
        });

        var added = new[] { await Cluster.StartSiloAsync("silo-2", Capacity(5)), await Cluster.StartSiloAsync("silo-3", Capacity(5)) };
        foreach (var silo in added)
        {
            await Poll.UntilAsync(async () => Promtool.Sum(await silo.Http.GetStringAsync("/metrics"), "worker_jobs_processed_total") > 0, TimeSpan.FromSeconds(60), $"{silo.Name} to process jobs");
        }

        await stop.CancelAsync();
        await flow;
        var health = await first.GetJsonAsync("/health");
        Assert.Equal(before, health.GetProperty("silo").GetProperty("address").GetString());
        Assert.Equal(3, health.GetProperty("cluster").GetProperty("activeSilos").GetInt32());
        var finished = await WaitAllSucceededAsync(api, "s3", submitted, TimeSpan.FromSeconds(120));
        var perSilo = finished.GroupBy(j => Attempts(j)[0].GetProperty("silo").GetString()).Select(g => g.Count()).ToList();
        Report($"scenario 3: {submitted} jobs submitted while scaling 1 → 3 silos; per-silo counts {string.Join(" / ", perSilo)}; the first silo kept {before} and its HTTP port {first.HttpPort}");
    }

    [Fact]
    public async Task Scenario4_RedisStopStart_UnderLoad_NothingLost_SigtermDuringOutageExitsInDrainTimeout()
    {
        var lease = new Dictionary<string, string> { ["Worker__MaxConcurrentJobs"] = "20", ["Worker__LeaseDuration"] = "00:00:06" };
        var a = await Cluster.StartSiloAsync("silo-a", lease);
        var b = await Cluster.StartSiloAsync("silo-b", new Dictionary<string, string>(lease) { ["Worker__DrainTimeout"] = "00:00:10" });
        var api = await Cluster.StartApiAsync();
        await SubmitBatchesAsync(api, Enumerable.Range(0, 500).Select(i => (object)new { type = "sleep", id = $"s4-{i}", queue = "s4", payload = new { ms = 100 } }).ToList());

        await Cluster.Redis.StopProcessAsync();
        var outage = Stopwatch.StartNew();
        using (var refused = await api.Http.PostAsJsonAsync("/jobs", new { type = "noop", id = "s4-during", queue = "s4-during" }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            var detail = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString();
            output.WriteLine($"503 during the outage: {detail}");
            Assert.False(string.IsNullOrWhiteSpace(detail));
        }

        using (var health = await a.Http.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            Assert.Equal("unhealthy", (await health.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        }

        var stopping = Stopwatch.StartNew();
        b.Terminate();
        await b.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var exitSeconds = stopping.Elapsed.TotalSeconds;
        Assert.True(exitSeconds <= 12, $"silo-b, told to stop while Redis was down, exited within its 10 s drain timeout (+2 s process teardown); took {exitSeconds:0.0} s");

        await Cluster.Redis.StartProcessAsync();
        var down = outage.Elapsed;
        await Poll.UntilAsync(async () => (await a.Http.GetAsync("/health")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "silo-a's /health to recover");
        var finished = await WaitAllSucceededAsync(api, "s4", 500, TimeSpan.FromSeconds(120));
        Assert.Null(await TryGetAsync(api, "s4-during"));
        Report($"scenario 4: jobs 500, lost 0, Redis down {down.TotalSeconds:0.0} s; API answered 503 meanwhile; silo-b (SIGTERM during the outage) exited in {exitSeconds:0.0} s; " +
               $"jobs run more than once {finished.Count(j => Attempts(j).Count > 1)} (attempts cut short by silo-b's exit, re-run after their lease expired)");
    }

    [Fact]
    public async Task Scenario5_SiloDiesWhileApiSubmits_EachSubmitSucceededOrFailedClearly()
    {
        var a = await Cluster.StartSiloAsync("silo-a");
        var b = await Cluster.StartSiloAsync("silo-b");
        var api = await Cluster.StartApiAsync();
        var outcomes = new System.Collections.Concurrent.ConcurrentDictionary<string, HttpStatusCode>();
        var details = new System.Collections.Concurrent.ConcurrentDictionary<string, string>();
        var count = 0;
        var killed = false;
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            if (Interlocked.Increment(ref count) == 100)
            {
                a.Kill();
                killed = true;
            }

            using var response = await api.Http.PostAsJsonAsync("/jobs", new { type = "noop", id = $"s5-{i}", queue = "s5" }, ct);
            outcomes[$"s5-{i}"] = response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                details[$"s5-{i}"] = (await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("detail").GetString()!;
            }
        });
        Assert.True(killed);

        var accepted = outcomes.Where(o => o.Value is HttpStatusCode.Accepted or HttpStatusCode.OK).Select(o => o.Key).ToHashSet();
        var failed = outcomes.Keys.Except(accepted).ToList();
        output.WriteLine("failed submits: " + string.Join("\n", failed.Select(f => $"{f}={(int)outcomes[f]} {details.GetValueOrDefault(f)}")));
        var jobs = await Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(api, "s5"), l => l.Count(j => j.GetProperty("state").GetString() == "Succeeded") >= accepted.Count,
            TimeSpan.FromSeconds(90), $"the {accepted.Count} accepted jobs to succeed");
        var stored = jobs.Select(j => j.GetProperty("id").GetString()!).ToHashSet();
        Assert.All(accepted, id => Assert.Contains(id, stored));
        Assert.All(failed, id => Assert.DoesNotContain(id, stored));
        Report($"scenario 5: 400 submits, silo-a killed after 100: accepted {accepted.Count} (all completed), failed with a clear error {failed.Count} (none stored)");
    }

    private static async Task<JsonElement?> TryGetAsync(HostProcess via, string id)
    {
        using var response = await via.Http.GetAsync($"/jobs/{id}");
        return response.StatusCode == HttpStatusCode.NotFound ? null : await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
