using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// Cluster-wide flow control with real silo processes on a real redis-server: a concurrency limit, a rate limit,
/// deduplication, pause and resume, and weighted queues. Each prints a RESULT line with its figures.
/// </summary>
[Collection("processes")]
public sealed class FlowControlTests(ITestOutputHelper output) : ProcessClusterTest
{
    private static Dictionary<string, string> Capacity(int max) => new() { ["Worker__MaxConcurrentJobs"] = max.ToString() };

    private static async Task PutAsync(HostProcess via, string path, object body)
    {
        using var response = await via.Http.PutAsJsonAsync(path, body);
        Assert.True(response.IsSuccessStatusCode, $"PUT {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task SubmitAsync(HostProcess via, IEnumerable<object> jobs)
    {
        foreach (var chunk in jobs.Chunk(200))
        {
            using var response = await via.Http.PostAsJsonAsync("/jobs/batch", chunk);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
    }

    private static Task<List<JsonElement>> WaitAllSucceededAsync(HostProcess via, string queue, int count, TimeSpan timeout) =>
        Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(via, queue), l => l.Count == count && l.All(j => j.GetProperty("state").GetString() == "Succeeded"),
            timeout, $"all {count} jobs of queue {queue} to succeed");

    private static IEnumerable<JsonElement> Attempts(IEnumerable<JsonElement> jobs) => jobs.SelectMany(j => j.GetProperty("attempts").EnumerateArray());

    [Fact]
    public async Task ConcurrencyLimit_HoldsAcrossThreeSilos_AndAllFinishWhenOneIsKilled()
    {
        var silos = new[] { await Cluster.StartSiloAsync("silo-1", Capacity(20)), await Cluster.StartSiloAsync("silo-2", Capacity(20)), await Cluster.StartSiloAsync("silo-3", Capacity(20)) };
        await PutAsync(silos[0], "/queues/limited", new { maxConcurrency = 5 });
        var ids = Enumerable.Range(0, 80).Select(i => $"lim-{i}").ToList();
        await SubmitAsync(silos[0], ids.Select(id => new { type = "sleep", id, queue = "limited", payload = new { ms = 300 } }));

        // Sample the store's own running set while the jobs run, and kill a silo once it runs some.
        var sampled = 0;
        var killed = false;
        HostProcess? victim = null;
        await Poll.UntilAsync(async () =>
        {
            var running = (await silos[0].GetJsonAsync("/jobs?state=Running&queue=limited&limit=1000")).GetProperty("items").EnumerateArray().ToList();
            sampled = Math.Max(sampled, running.Count);
            Assert.True(running.Count <= 5, $"at most 5 jobs of the limited queue run at once (saw {running.Count})");
            if (!killed && running.FirstOrDefault(j => silos.Skip(1).Any(s => j.GetProperty("silo").GetString()!.StartsWith(ProcessCluster.SiloPrefix(s), StringComparison.Ordinal))) is { ValueKind: JsonValueKind.Object } onVictim)
            {
                victim = silos.Skip(1).First(s => onVictim.GetProperty("silo").GetString()!.StartsWith(ProcessCluster.SiloPrefix(s), StringComparison.Ordinal));
                victim.Kill();
                killed = true;
            }

            var done = (await silos[0].GetJsonAsync("/jobs?state=Succeeded&queue=limited&limit=1000")).GetProperty("items").GetArrayLength();
            return done == ids.Count;
        }, TimeSpan.FromSeconds(120), "every job of the limited queue to succeed");

        Assert.True(killed, "a silo was killed while it ran jobs of the limited queue");
        var jobs = await WaitAllSucceededAsync(silos[0], "limited", ids.Count, TimeSpan.FromSeconds(30));
        var intervals = Attempts(jobs).Select(a => (a.GetProperty("startedAt").GetDateTimeOffset(), a.GetProperty("endedAt").GetDateTimeOffset())).ToList();
        var depth = Intervals.MaxOverlap(intervals);
        Assert.True(depth <= 5, $"attempt intervals never overlap more than 5 deep (max {depth})");
        Assert.True(sampled >= 3, $"the limit was exercised (up to {sampled} running at once)");
        output.WriteLine($"RESULT concurrency limit 5, 3 silos × 20 slots, 80 jobs: max running sampled {sampled}, max attempt overlap {depth}, {intervals.Count} attempts, all succeeded after kill -9 of {victim!.Name}");
    }

    [Fact]
    public async Task RateLimit_50PerSecond_Over500Jobs_TakesNineSeconds_NeverMoreThan50InAnySecond()
    {
        var silos = new[] { await Cluster.StartSiloAsync("silo-1", Capacity(100)), await Cluster.StartSiloAsync("silo-2", Capacity(100)), await Cluster.StartSiloAsync("silo-3", Capacity(100)) };
        await PutAsync(silos[0], "/queues/rated", new { rateLimit = new { limit = 50, periodSeconds = 1 } });
        await SubmitAsync(silos[0], Enumerable.Range(0, 500).Select(i => new { type = "noop", id = $"rate-{i}", queue = "rated" }));
        var jobs = await WaitAllSucceededAsync(silos[0], "rated", 500, TimeSpan.FromSeconds(60));
        var starts = Attempts(jobs).Select(a => a.GetProperty("startedAt").GetDateTimeOffset()).Order().ToList();
        var span = starts[^1] - starts[0];
        var worst = 0;
        for (int i = 0, j = 0; i < starts.Count; i++)
        {
            while (starts[j] <= starts[i] - TimeSpan.FromSeconds(1))
            {
                j++;
            }

            worst = Math.Max(worst, i - j + 1);
        }

        Assert.True(span >= TimeSpan.FromSeconds(9), $"500 starts at 50/s take at least 9 s (took {span.TotalSeconds:0.0} s)");
        Assert.True(worst <= 50, $"never more than 50 starts within one second (saw {worst})");
        output.WriteLine($"RESULT rate limit 50/s, 3 silos, 500 jobs: first to last start {span.TotalSeconds:0.0} s, most starts in any 1 s window {worst}");
    }

    [Fact]
    public async Task Dedupe_50ConcurrentIdenticalSubmissions_YieldOneJob()
    {
        var silos = new[] { await Cluster.StartSiloAsync("silo-1"), await Cluster.StartSiloAsync("silo-2") };
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 50), new ParallelOptions { MaxDegreeOfParallelism = 25 }, async (i, ct) =>
        {
            using var response = await silos[i % 2].Http.PostAsJsonAsync("/jobs", new { type = "sleep", queue = "dedupe", uniqueKey = "nightly-report-2026-11-28", payload = new { ms = 2000 } }, ct);
            Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"submission {i}: {(int)response.StatusCode}");
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("id").GetString()!);
        });

        var distinct = ids.Distinct().ToList();
        Assert.Single(distinct);
        var jobs = await ProcessCluster.ListQueueAsync(silos[0], "dedupe");
        Assert.Equal(distinct[0], Assert.Single(jobs).GetProperty("id").GetString());
        var metrics = await silos[0].Http.GetStringAsync("/metrics") + await silos[1].Http.GetStringAsync("/metrics");
        Assert.Equal(49, Promtool.Sum(metrics, "worker_jobs_deduplicated_total", "queue=\"dedupe\""));
        output.WriteLine($"RESULT dedupe: 50 concurrent submissions with one unique key through 2 silos → 1 job ({distinct[0]}), 49 deduplicated");
    }

    [Fact]
    public async Task Pause_HoldsNewStarts_WhileRunningOnesFinish_ThenResumeRunsTheRest()
    {
        var silo = await Cluster.StartSiloAsync("silo-1", Capacity(3));
        await SubmitAsync(silo, Enumerable.Range(0, 9).Select(i => new { type = "sleep", id = $"pause-{i}", queue = "pausing", payload = new { ms = 1500 } }));
        await Poll.UntilAsync(async () => (await silo.GetJsonAsync("/jobs?state=Running&queue=pausing")).GetProperty("items").GetArrayLength() == 3, TimeSpan.FromSeconds(20), "3 jobs to run");
        using (var paused = await silo.Http.PostAsync("/queues/pausing/pause", null))
        {
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
            Assert.True((await paused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("paused").GetBoolean());
        }

        var pausedAt = DateTimeOffset.UtcNow;
        var runningAtPause = (await ProcessCluster.ListQueueAsync(silo, "pausing")).Where(j => j.GetProperty("state").GetString() == "Running").Select(j => j.GetProperty("id").GetString()).ToHashSet();
        await Poll.UntilAsync(async () => (await silo.GetJsonAsync("/jobs?state=Succeeded&queue=pausing")).GetProperty("items").GetArrayLength() >= runningAtPause.Count,
            TimeSpan.FromSeconds(20), "the jobs running at the pause to finish");

        // The hold itself is what is tested: for longer than a job takes, nothing new may start.
        await Task.Delay(TimeSpan.FromSeconds(2));
        var jobs = await ProcessCluster.ListQueueAsync(silo, "pausing");
        var startedAfter = jobs.Where(j => Attempts([j]).Any(a => a.GetProperty("startedAt").GetDateTimeOffset() > pausedAt.AddMilliseconds(200))).Select(j => j.GetProperty("id").GetString()).ToList();
        Assert.True(startedAfter.Count == 0, $"nothing started while paused (started: {string.Join(", ", startedAfter)})");
        Assert.Equal(9 - runningAtPause.Count, jobs.Count(j => j.GetProperty("state").GetString() == "Queued"));
        var metrics = await silo.Http.GetStringAsync("/metrics");
        Assert.Equal(1, Promtool.Sum(metrics, "worker_queue_paused", "queue=\"pausing\""));

        using (var resumed = await silo.Http.PostAsync("/queues/pausing/resume", null))
        {
            Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        }

        await WaitAllSucceededAsync(silo, "pausing", 9, TimeSpan.FromSeconds(30));
        output.WriteLine($"RESULT pause: {runningAtPause.Count} running at the pause finished, {9 - runningAtPause.Count} held Queued, all ran after resume");
    }

    [Fact]
    public async Task WeightedQueues_GetAboutTheirShares_UnderABacklog()
    {
        var silo = await Cluster.StartSiloAsync("weighted", new Dictionary<string, string>(Capacity(6))
        {
            ["Worker__Queues__0"] = "w-critical=6",
            ["Worker__Queues__1"] = "w-normal=3",
            ["Worker__Queues__2"] = "w-low=1",
        });

        // The backlog is in place before the silo takes any of it.
        await PutAsync(silo, "/queues/w-critical", new { paused = true });
        await PutAsync(silo, "/queues/w-normal", new { paused = true });
        await PutAsync(silo, "/queues/w-low", new { paused = true });
        foreach (var queue in new[] { "w-critical", "w-normal", "w-low" })
        {
            await SubmitAsync(silo, Enumerable.Range(0, 250).Select(i => new { type = "sleep", id = $"{queue}-{i}", queue, payload = new { ms = 50 } }));
        }

        foreach (var queue in new[] { "w-critical", "w-normal", "w-low" })
        {
            await PutAsync(silo, $"/queues/{queue}", new { paused = false });
        }

        await Poll.UntilAsync(async () => (await silo.GetJsonAsync("/jobs?state=Succeeded&limit=1000")).GetProperty("items").GetArrayLength() >= 240,
            TimeSpan.FromSeconds(60), "240 jobs to run");
        var all = new List<JsonElement>();
        foreach (var queue in new[] { "w-critical", "w-normal", "w-low" })
        {
            all.AddRange(await ProcessCluster.ListQueueAsync(silo, queue));
        }

        var first = all.Where(j => j.GetProperty("state").GetString() == "Succeeded").OrderBy(j => Attempts([j]).First().GetProperty("startedAt").GetDateTimeOffset()).Take(240).ToList();
        double Share(string queue) => first.Count(j => j.GetProperty("queue").GetString() == queue) / (double)first.Count;
        var (critical, normal, low) = (Share("w-critical"), Share("w-normal"), Share("w-low"));
        Assert.InRange(critical, 0.45, 0.75);
        Assert.InRange(normal, 0.18, 0.42);
        Assert.InRange(low, 0.03, 0.20);
        output.WriteLine($"RESULT weighted queues 6/3/1, backlog of 250 each, first 240 starts: critical {critical:P0}, normal {normal:P0}, low {low:P0}");
    }
}
