using System.Diagnostics;

namespace OrleansWorker.Benchmarks;

/// <summary>Silo process RSS (/proc VmRSS) and live activations (<c>GET /metrics</c>) through many jobs and with a backlog.</summary>
internal static class MemoryBenchmarks
{
    private const double MiB = 1024 * 1024;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(15);

    private static Dictionary<string, string> OnlyDefaultQueue() => new() { ["Worker__Queues__0"] = "default" };

    /// <summary>Before, during (max) and after <see cref="BenchOptions.MemoryJobs"/> no-op jobs.</summary>
    public static async Task ThroughAsync(BenchOptions options, Report report)
    {
        var m = options.MemoryJobs;
        await using var redis = await RedisServer.StartAsync();
        await using var silo = await SiloProcess.StartAsync("silo-memory", redis, $"bench-mem-{Guid.NewGuid():N}", OnlyDefaultQueue());
        var db = redis.Connection.GetDatabase();
        var startRss = silo.RssBytes();
        await HttpSubmit.BatchesAsync(silo.Http, "warm-", 2000, 2);
        await Wait.SucceededAsync(db, 2000);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var beforeRss = silo.RssBytes();
        var (beforeAct, _) = await silo.ActivationsAsync();

        long maxRss = 0, maxAct = 0, maxJobAct = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxRss = Math.Max(maxRss, silo.RssBytes());
                var (all, jobs) = await silo.ActivationsAsync();
                (maxAct, maxJobAct) = (Math.Max(maxAct, all), Math.Max(maxJobAct, jobs));
                try
                {
                    await Task.Delay(500, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        var clock = Stopwatch.StartNew();
        await HttpSubmit.BatchesAsync(silo.Http, "m-", m, 4);
        await Wait.SucceededAsync(db, 2000 + m, TimeSpan.FromSeconds(Math.Max(600, m / 200)));
        var total = clock.Elapsed;
        await stop.CancelAsync();
        await sampler.WaitAsync(TimeSpan.FromSeconds(30));
        var atEndRss = silo.RssBytes();
        await Task.Delay(Settle);
        var afterRss = silo.RssBytes();
        var (afterAct, afterJobAct) = await silo.ActivationsAsync();

        report.Row($"silo RSS through {m:N0} no-op jobs (`POST /jobs/batch`, one silo process)",
            $"start {startRss / MiB:0} MiB · before {beforeRss / MiB:0} · max during **{maxRss / MiB:0}** · at end {atEndRss / MiB:0} · {Settle.TotalSeconds:0} s later **{afterRss / MiB:0}** (Δ {(afterRss - beforeRss) / MiB:+0;-0} MiB)",
            $"ran at {m / total.TotalSeconds:N0} jobs/s; goal: back within ±50 MB of its start");
        report.Row($"live activations through {m:N0} no-op jobs", $"before {beforeAct} · max during **{maxAct}** (job grains {maxJobAct}) · after **{afterAct}** (job grains {afterJobAct})",
            "sum of `microsoft_orleans_orleans_catalog_activations` from the silo's `/metrics`, sampled every 0.5 s");
        report.Figure("memory_start_rss_mib", Math.Round(startRss / MiB));
        report.Figure("memory_before_rss_mib", Math.Round(beforeRss / MiB));
        report.Figure("memory_max_during_rss_mib", Math.Round(maxRss / MiB));
        report.Figure("memory_after_rss_mib", Math.Round(afterRss / MiB));
        report.Figure("memory_after_minus_before_rss_mib", Math.Round((afterRss - beforeRss) / MiB));
        report.Figure("memory_activations_before", beforeAct);
        report.Figure("memory_activations_max_during", maxAct);
        report.Figure("memory_activations_after", afterAct);
        report.Figure("memory_run_jobs_per_second", Math.Round(m / total.TotalSeconds));
    }

    /// <summary>RSS with <see cref="BenchOptions.BacklogJobs"/> jobs queued on a queue no silo takes from.</summary>
    public static async Task BacklogAsync(BenchOptions options, Report report)
    {
        var m = options.BacklogJobs;
        await using var redis = await RedisServer.StartAsync();
        await using var silo = await SiloProcess.StartAsync("silo-backlog", redis, $"bench-backlog-{Guid.NewGuid():N}", OnlyDefaultQueue());
        var db = redis.Connection.GetDatabase();
        await HttpSubmit.BatchesAsync(silo.Http, "warm-", 2000, 2);
        await Wait.SucceededAsync(db, 2000);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var beforeRss = silo.RssBytes();
        var beforeRedis = await redis.UsedMemoryAsync();

        var clock = Stopwatch.StartNew();
        await HttpSubmit.BatchesAsync(silo.Http, "q-", m, 4, queue: "backlog");
        var submit = clock.Elapsed;
        await Wait.UntilAsync(async () => await db.SortedSetLengthAsync("{ow:0}:r:backlog") >= m, TimeSpan.FromMinutes(2), $"{m} jobs queued in {{ow:0}}:r:backlog");
        var atEndRss = silo.RssBytes();
        await Task.Delay(Settle);
        var afterRss = silo.RssBytes();
        var (act, jobAct) = await silo.ActivationsAsync();
        var afterRedis = await redis.UsedMemoryAsync();
        var perJob = (double)(afterRss - beforeRss) / m;
        var redisPerJob = (double)(afterRedis - beforeRedis) / m;

        report.Row($"silo RSS with a backlog of {m:N0} queued jobs (queue no silo takes)",
            $"before {beforeRss / MiB:0} MiB · after submitting {atEndRss / MiB:0} · {Settle.TotalSeconds:0} s later **{afterRss / MiB:0}** → **{perJob:0} B per queued job**",
            $"submitted at {m / submit.TotalSeconds:N0} jobs/s; activations {act} (job grains {jobAct}); Redis holds {redisPerJob:0} B per queued job; goal ≤ 1 KiB of silo memory per job");
        report.Figure("backlog_before_rss_mib", Math.Round(beforeRss / MiB));
        report.Figure("backlog_after_rss_mib", Math.Round(afterRss / MiB));
        report.Figure("backlog_rss_bytes_per_queued_job", Math.Round(perJob));
        report.Figure("backlog_redis_bytes_per_queued_job", Math.Round(redisPerJob));
        report.Figure("backlog_activations", act);
    }
}
