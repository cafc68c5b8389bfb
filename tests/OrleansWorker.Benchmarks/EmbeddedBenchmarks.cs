using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;

namespace OrleansWorker.Benchmarks;

/// <summary>
/// The embedded store (issue 10): durable no-op throughput in-process for each durability setting, and the worker
/// process's start-up time and idle memory, embedded against Redis.
/// </summary>
internal static class EmbeddedBenchmarks
{
    public static async Task ThroughputAsync(BenchOptions options, Report report)
    {
        foreach (var durability in new[] { EmbeddedDurability.Commit, EmbeddedDurability.Process })
        {
            foreach (var n in options.Ns)
            {
                var dir = Directory.CreateTempSubdirectory("ow-bench-embedded-").FullName;
                try
                {
                    await RunAsync(dir, durability, n, report);
                }
                finally
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
        }
    }

    private static async Task RunAsync(string dir, EmbeddedDurability durability, int n, Report report)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(siloPort: Ports.Free(), gatewayPort: Ports.Free());
            silo.AddOrleansWorker(w => w
                .UseEmbeddedJobStore(o =>
                {
                    o.DataDirectory = dir;
                    o.Durability = durability;
                })
                .AddBuiltInHandlers());
        });
        builder.Services.AddJobClient(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            var jobs = host.Services.GetRequiredService<IJobClient>();
            var store = host.Services.GetRequiredService<JobStore>();
            async Task<long> SucceededAsync()
            {
                var batch = store.Backend.CreateReadBatch();
                var count = batch.SortedSetLength(store.Keys.Finished(0, JobState.Succeeded, "default"));
                await batch.ExecuteAsync();
                return await count;
            }

            await jobs.EnqueueManyAsync(Enumerable.Range(0, 1000).Select(i => new JobRequest("noop") { Id = $"warm-{i}" }).ToList());
            await Wait.UntilAsync(async () => await SucceededAsync() >= 1000, TimeSpan.FromMinutes(5), "1000 warm-up jobs", 20);

            var cpu = new CpuMeter();
            var clock = Stopwatch.StartNew();
            await Submit.BatchesAsync(jobs, n, 500, 8, $"e{n}-");
            await Wait.UntilAsync(async () => await SucceededAsync() >= 1000 + n, TimeSpan.FromMinutes(20), $"{n} embedded jobs to succeed", 20);
            var rate = n / clock.Elapsed.TotalSeconds;
            var name = $"embedded_{durability.ToString().ToLowerInvariant()}_n{n}";
            report.Row($"durable no-op jobs/s, embedded store, durability {durability}, `IJobClient` batches of 500 (8 in flight), N = {n:N0}", $"**{rate:N0}**", cpu.Describe("silo+client", report, name));
            report.Figure($"{name}_jobs_per_sec", Math.Round(rate));
        }
        finally
        {
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>Start-up time (process start → <c>/health/ready</c> 200, median of 5) and RSS 10 s after, embedded and on Redis.</summary>
    public static async Task StartupAsync(Report report)
    {
        await using var redis = await RedisServer.StartAsync();
        foreach (var (label, server) in new[] { ("embedded", (RedisServer?)null), ("redis", redis) })
        {
            var times = new List<double>();
            var rss = new List<double>();
            for (var i = 0; i < 5; i++)
            {
                var clock = Stopwatch.StartNew();
                await using var silo = await SiloProcess.StartAsync($"startup-{label}-{i}", server, $"startup-{Guid.NewGuid():N}");
                times.Add(clock.Elapsed.TotalSeconds);
                var settle = Stopwatch.StartNew();
                await Wait.UntilAsync(() => Task.FromResult(settle.Elapsed >= TimeSpan.FromSeconds(10)), TimeSpan.FromSeconds(20), "10 s of idling", 200);
                rss.Add(silo.RssBytes() / 1024.0 / 1024.0);
            }

            times.Sort();
            rss.Sort();
            report.Row($"worker start-up (process start → ready), {label} store, median of 5", $"**{times[2]:0.00} s**", $"min {times[0]:0.00} s, max {times[4]:0.00} s");
            report.Row($"worker RSS idle (10 s after ready), {label} store, median of 5", $"**{rss[2]:0} MiB**", $"min {rss[0]:0}, max {rss[4]:0} MiB");
            report.Figure($"startup_{label}_seconds", Math.Round(times[2], 2));
            report.Figure($"idle_rss_{label}_mib", Math.Round(rss[2]));
        }
    }
}
