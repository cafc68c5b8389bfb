using System.Globalization;
using OrleansWorker.Benchmarks;

// Issue 7: durable no-op throughput (IJobClient batches / one by one, POST /jobs/batch, POST /jobs), open-loop
// enqueue→start latency, silo memory (through-put and backlog), kill -9 recovery on three silos, Hangfire
// 1.8.25 + Hangfire.Redis.StackExchange 1.12.0 and BullMQ (Node, bullmq/bench.mjs) on the same redis-server; all against
// real redis-server processes.
// Usage: dotnet run -c Release --project tests/OrleansWorker.Benchmarks [-- --full] [--n 20000,100000] [--rate 2000]
//        [--seconds 30] [--memory-jobs 1000000] [--backlog-jobs 1000000] [--concurrency 64] [--warmup 2000] [--rounds 3] [--phases a,b,...]
// Phases: client (IJobClient throughput), latency, hangfire, bullmq, http, memory, backlog, recovery, cluster (3-node Redis
// Cluster, 1 vs 3 shards, at the largest N), log (CPU per console job line). Default: all, small sizes.
if (args is ["--log-child", var logVariant])
{
    return await LogBenchmark.ChildAsync(logVariant);
}

if (args is ["--client-child", var childPort, var childRedisPid, .. var childArgs])
{
    return await InProcessBenchmarks.ChildAsync(int.Parse(childPort, CultureInfo.InvariantCulture), int.Parse(childRedisPid, CultureInfo.InvariantCulture), BenchOptions.Parse(childArgs));
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
        var rounds = new List<Dictionary<string, double>>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            // Each round on a fresh redis-server; ours and BullMQ's rows in alternating order (odd rounds ours first).
            var oursFirst = round % 2 == 1;
            if (options.Rounds > 1)
            {
                report.Row($"round {round} of {options.Rounds}", "", $"a fresh redis-server; {(oursFirst ? "OrleansWorker first, then BullMQ" : "BullMQ first, then OrleansWorker")}");
            }

            var measured = new Dictionary<string, double>();
            await using var redis = await RedisServer.StartAsync();
            if (options.Has("bullmq") && !oursFirst)
            {
                await BullMqBenchmark.RunAsync(options, redis, report, measured);
            }

            if (options.Has("client") && options.Rounds > 1)
            {
                await InProcessBenchmarks.RunInChildAsync(options, redis, report, measured);
            }

            if ((options.Has("client") && options.Rounds == 1) || (options.Has("latency") && round == 1))
            {
                await InProcessBenchmarks.RunAsync(options, redis, report, measured, client: options.Has("client") && options.Rounds == 1, latency: options.Has("latency") && round == 1);
            }

            if (options.Has("hangfire") && round == 1)
            {
                await HangfireBenchmark.RunAsync(options, redis, report, measured);
            }

            if (options.Has("bullmq") && oursFirst)
            {
                await BullMqBenchmark.RunAsync(options, redis, report, measured);
            }

            rounds.Add(measured);
        }

        foreach (var key in rounds.SelectMany(r => r.Keys).Distinct().ToList())
        {
            var values = rounds.Where(r => r.ContainsKey(key)).Select(r => r[key]).ToList();
            throughput[key] = RoundStatistics.Median(values);
            if (values.Count > 1)
            {
                report.Row($"median of {values.Count} rounds, {key.Replace('_', ' ')}", $"**{throughput[key]:N0}**",
                    $"jobs/s per round: {string.Join(" · ", values.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))}");
                report.Figure($"median_{key}_jobs_per_second", Math.Round(throughput[key]));
            }
        }

        if (options.Rounds > 1 && options.Has("bullmq"))
        {
            // The ratio within each round (the two systems minutes apart on the same server), next to the ratio of the medians below.
            foreach (var n in options.Ns)
            {
                foreach (var (mode, bullMode) in new[] { ("client_batch", "bulk"), ("client_single", "single") })
                {
                    var ratios = rounds.Where(r => r.ContainsKey($"{mode}_n{n}") && r.ContainsKey($"bullmq_{bullMode}_n{n}"))
                        .Select(r => r[$"{mode}_n{n}"] / r[$"bullmq_{bullMode}_n{n}"]).ToList();
                    if (ratios.Count > 1)
                    {
                        // How far the rounds' median ratio can be trusted: an interval for the median of the distribution the
                        // rounds come from (order statistics; RoundStatistics), so a figure at 2.0× says whether it is above.
                        var (low, high, coverage) = RoundStatistics.MedianInterval(ratios);
                        var median = RoundStatistics.Median(ratios);
                        report.Row($"OrleansWorker / BullMQ per round, {mode.Replace('_', ' ')} vs BullMQ {bullMode}, N = {n:N0}",
                            string.Join(" · ", ratios.Select(x => x.ToString("0.00", CultureInfo.InvariantCulture) + "×")),
                            $"median {median:0.00}×, lowest {ratios.Min():0.00}×; the median lies in {low:0.00}–{high:0.00}× with {coverage:P0} confidence");
                        report.Figure($"round_ratio_{mode}_vs_bullmq_{bullMode}_n{n}_median", Math.Round(median, 2));
                        report.Figure($"round_ratio_{mode}_vs_bullmq_{bullMode}_n{n}_median_low", Math.Round(low, 2));
                        report.Figure($"round_ratio_{mode}_vs_bullmq_{bullMode}_n{n}_median_high", Math.Round(high, 2));
                        report.Figure($"round_ratio_{mode}_vs_bullmq_{bullMode}_n{n}_median_confidence", Math.Round(coverage, 3));
                    }
                }
            }
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
