using System.Diagnostics;
using Hangfire;
using Hangfire.Redis.StackExchange;

namespace OrleansWorker.Benchmarks;

/// <summary>The job Hangfire runs: nothing.</summary>
public static class HangfireJobs
{
    /// <summary>A no-op job method.</summary>
    public static void NoOp()
    {
    }
}

/// <summary>
/// Hangfire 1.8.25 with Hangfire.Redis.StackExchange 1.12.0 on the same redis-server (database 1, prefix <c>hf:</c>),
/// <see cref="BackgroundJobServer"/> with Hangfire's default worker count (5 × cores), in this process. Counted like
/// OrleansWorker: when Succeeded is stored (Hangfire's <c>stats:succeeded</c> counter, which its state change increments).
/// </summary>
internal static class HangfireBenchmark
{
    private const string Prefix = "hf:";

    public static async Task RunAsync(BenchOptions options, RedisServer redis, Report report, Dictionary<string, double> throughput)
    {
        var storage = new RedisStorage(redis.Connection, new RedisStorageOptions { Prefix = Prefix, Db = 1 });
        var db = redis.Connection.GetDatabase(1);
        var serverOptions = new BackgroundJobServerOptions { WorkerCount = Environment.ProcessorCount * 5, Queues = ["default"] };

        // Hangfire's client and storage block threads (synchronous Redis calls); with the pool's default minimum (one
        // thread per core) the 16 submitting threads starve and Hangfire measures 2× slower than it can go. Raised
        // for this phase only; the OrleansWorker phases are asynchronous and run with the default.
        ThreadPool.GetMinThreads(out var minWorkers, out var minIo);
        ThreadPool.SetMinThreads(64, Math.Max(minIo, 64));
        using var server = new BackgroundJobServer(serverOptions, storage);
        try
        {
            var client = new BackgroundJobClient(storage);
            async Task<long> SucceededAsync() => (long?)await db.StringGetAsync(Prefix + "stats:succeeded") ?? 0;

            // Warm-up.
            var warm = await SucceededAsync();
            for (var i = 0; i < 200; i++)
            {
                client.Enqueue(() => HangfireJobs.NoOp());
            }

            await Wait.UntilAsync(async () => await SucceededAsync() >= warm + 200, TimeSpan.FromMinutes(2), "200 Hangfire warm-up jobs to succeed");

            foreach (var n in options.Ns)
            {
                var baseline = await SucceededAsync();
                var cpu = new CpuMeter(("redis", redis.Pid));
                var clock = Stopwatch.StartNew();
                // Hangfire's client is synchronous: one blocking call per job, 16 threads submitting.
                await Task.Run(() => Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 16 }, _ => client.Enqueue(() => HangfireJobs.NoOp())));
                var submitted = clock.Elapsed;
                await Wait.UntilAsync(async () => await SucceededAsync() >= baseline + n, TimeSpan.FromSeconds(Math.Max(600, n / 100)), $"{n} Hangfire jobs to succeed", 5);
                var total = clock.Elapsed;
                var rate = n / total.TotalSeconds;
                throughput[$"hangfire_n{n}"] = rate;
                var cpuText = cpu.Describe("hangfire", report, $"hangfire_n{n}");
                report.Row($"Hangfire 1.8.25 + Redis 1.12.0, `Enqueue` one by one (16 threads), {serverOptions.WorkerCount} workers, in-process, N = {n:N0}", $"**{rate:N0}**",
                    $"submit {submitted.TotalSeconds:0.00} s, all Succeeded after {total.TotalSeconds:0.00} s; {cpuText}");
                report.Figure($"throughput_hangfire_n{n}_jobs_per_second", Math.Round(rate));
            }
        }
        finally
        {
            ThreadPool.SetMinThreads(minWorkers, minIo);
            server.SendStop();
            if (!server.WaitForShutdown(TimeSpan.FromSeconds(30)))
            {
                Console.Error.WriteLine("Hangfire server did not stop within 30 s.");
            }
        }
    }
}
