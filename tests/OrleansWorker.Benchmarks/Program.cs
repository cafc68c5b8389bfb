using System.Globalization;
using OrleansWorker.Benchmarks;

// Issue 7: durable no-op throughput (IJobClient batches / one by one, POST /jobs/batch, POST /jobs), open-loop
// enqueue→start latency, silo memory (through-put and backlog), kill -9 recovery on three silos, Hangfire
// 1.8.25 + Hangfire.Redis.StackExchange 1.12.0 and BullMQ (Node, bullmq/bench.mjs) on the same redis-server; all against
// real redis-server processes.
// Usage: dotnet run -c Release --project tests/OrleansWorker.Benchmarks [-- --full] [--n 20000,100000] [--rate 2000]
//        [--seconds 30] [--memory-jobs 1000000] [--backlog-jobs 1000000] [--concurrency 64] [--warmup 2000] [--phases a,b,...]
// Phases: client (IJobClient throughput), latency, hangfire, bullmq, http, memory, backlog, recovery, cluster (3-node Redis
// Cluster, 1 vs 3 shards, at the largest N), log (CPU per console job line). Default: all, small sizes.
if (args is ["--log-child", var logVariant])
{
    return await LogBenchmark.ChildAsync(logVariant);
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}

Console.CancelKeyPress += (_, _) => Children.KillAll();
AppDomain.CurrentDomain.ProcessExit += (_, _) => Children.KillAll();

var report = new Report();
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"OrleansWorker benchmarks: N = {string.Join(", ", options.Ns)}; latency {options.Rate}/s for {options.Seconds} s; memory {options.MemoryJobs}; backlog {options.BacklogJobs}; one-by-one concurrency {options.Concurrency}; phases {string.Join(",", options.Phases)}; {Environment.ProcessorCount} cores"));
var exitCode = 0;
try
{
    var throughput = new Dictionary<string, double>();
    if (options.Has("client") || options.Has("latency") || options.Has("hangfire") || options.Has("bullmq"))
    {
        await using var redis = await RedisServer.StartAsync();
        if (options.Has("client") || options.Has("latency"))
        {
            await InProcessBenchmarks.RunAsync(options, redis, report, throughput);
        }

        if (options.Has("hangfire"))
        {
            await HangfireBenchmark.RunAsync(options, redis, report, throughput);
        }

        if (options.Has("bullmq"))
        {
            await BullMqBenchmark.RunAsync(options, redis, report, throughput);
        }
    }

    if (options.Has("http"))
    {
        await HttpBenchmarks.RunAsync(options, report, throughput);
    }

    if (options.Has("hangfire"))
    {
        foreach (var n in options.Ns)
        {
            if (!throughput.TryGetValue($"hangfire_n{n}", out var hangfire))
            {
                continue;
            }

            foreach (var mode in new[] { "client_batch", "client_single", "http_batch", "http_single" })
            {
                if (throughput.TryGetValue($"{mode}_n{n}", out var ours))
                {
                    report.Row($"OrleansWorker / Hangfire, {mode.Replace('_', ' ')}, N = {n:N0}", $"**{ours / hangfire:0.0}×**", $"{ours:0} vs {hangfire:0} jobs/s");
                    report.Figure($"ratio_{mode}_vs_hangfire_n{n}", Math.Round(ours / hangfire, 2));
                }
            }
        }
    }

    if (options.Has("bullmq"))
    {
        foreach (var n in options.Ns)
        {
            // Batches against addBulk, one-by-one submissions against Queue.add one by one.
            foreach (var (mode, bullMode) in new[] { ("client_batch", "bulk"), ("http_batch", "bulk"), ("client_single", "single"), ("http_single", "single") })
            {
                if (throughput.TryGetValue($"{mode}_n{n}", out var ours) && throughput.TryGetValue($"bullmq_{bullMode}_n{n}", out var bullmq))
                {
                    report.Row($"OrleansWorker / BullMQ, {mode.Replace('_', ' ')} vs BullMQ {bullMode}, N = {n:N0}", $"**{ours / bullmq:0.00}×**", $"{ours:0} vs {bullmq:0} jobs/s");
                    report.Figure($"ratio_{mode}_vs_bullmq_{bullMode}_n{n}", Math.Round(ours / bullmq, 2));
                }
            }
        }
    }

    if (options.Has("memory"))
    {
        await MemoryBenchmarks.ThroughAsync(options, report);
    }

    if (options.Has("backlog"))
    {
        await MemoryBenchmarks.BacklogAsync(options, report);
    }

    if (options.Has("recovery"))
    {
        await RecoveryBenchmark.RunAsync(report);
    }

    if (options.Has("embedded"))
    {
        await EmbeddedBenchmarks.ThroughputAsync(options, report);
    }

    if (options.Has("startup"))
    {
        await EmbeddedBenchmarks.StartupAsync(report);
    }

    if (options.Has("cluster"))
    {
        await ClusterBenchmark.RunAsync(options, report);
    }

    if (options.Has("log"))
    {
        await LogBenchmark.RunAsync(report);
    }
}
catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException or IOException)
{
    Console.Error.WriteLine($"benchmark failed: {e}");
    exitCode = 1;
}
finally
{
    Children.KillAll();
    report.Print();
}

return exitCode;
