using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansWorker.Client;
using OrleansWorker.Hosting;

namespace OrleansWorker.Benchmarks;

/// <summary>CPU time of this process and of other processes over a measured interval, as % of one core.</summary>
internal sealed class CpuMeter
{
    private readonly (string Name, int Pid)[] _others;
    private readonly double _self;
    private readonly (double Own, double WithChildren)[] _start;
    private readonly double _machine;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public CpuMeter(params (string Name, int Pid)[] others)
    {
        _others = others;
        _self = Proc.CpuSeconds(Environment.ProcessId);
        _start = others.Select(o => Proc.CpuTimes(o.Pid)).ToArray();
        _machine = Proc.MachineBusySeconds();
    }

    /// <summary>E.g. "CPU: harness 95%, redis 60% (of one core; 200% = both cores)".</summary>
    public string Describe(string selfName, Report report, string figurePrefix)
    {
        var seconds = _clock.Elapsed.TotalSeconds;
        var parts = new List<string>();
        var machine = (Proc.MachineBusySeconds() - _machine) / seconds * 100;
        var self = (Proc.CpuSeconds(Environment.ProcessId) - _self) / seconds * 100;
        var ours = self;
        parts.Add($"{selfName} {self:0}%");
        report.Figure($"{figurePrefix}_cpu_{selfName}_percent", Math.Round(self));
        for (var i = 0; i < _others.Length; i++)
        {
            var now = Proc.CpuTimes(_others[i].Pid);
            var pct = (now.WithChildren - _start[i].WithChildren) / seconds * 100;
            var own = (now.Own - _start[i].Own) / seconds * 100;
            ours += pct;
            report.Figure($"{figurePrefix}_cpu_{_others[i].Name}_percent", Math.Round(pct));
            // Its children's share (redis-server's AOF-rewrite child, forked when the file has doubled: a row it falls in
            // pays for rewriting the whole dataset), so that a row's figure can be read with and without it.
            var children = Math.Max(0, pct - own);
            report.Figure($"{figurePrefix}_cpu_{_others[i].Name}_children_percent", Math.Round(children));
            parts.Add(children >= 0.5 ? $"{_others[i].Name} {pct:0}% (its children {children:0}%)" : $"{_others[i].Name} {pct:0}%");
        }

        // Everything else the machine did meanwhile (other users' processes; the measured processes' children count as
        // theirs, e.g. redis' AOF-rewrite child): a figure taken while this is large was measured on a busy machine.
        var other = Math.Max(0, machine - ours);
        parts.Add($"other processes {other:0}%");
        report.Figure($"{figurePrefix}_cpu_other_processes_percent", Math.Round(other));
        return $"CPU {string.Join(", ", parts)} (100% = one core; {Environment.ProcessorCount * 100}% = all)";
    }
}

/// <summary>Managed allocation, collections and the time the collections paused this process (silo + client) over a phase.</summary>
internal sealed class AllocationMeter
{
    private readonly long _bytes = GC.GetTotalAllocatedBytes(precise: true);
    private readonly int[] _collections = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
    private readonly TimeSpan _paused = GC.GetTotalPauseDuration();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public string Describe(int jobs, Report report, string figurePrefix)
    {
        var perJob = (GC.GetTotalAllocatedBytes(precise: true) - _bytes) / (double)jobs;
        var paused = GC.GetTotalPauseDuration() - _paused;
        report.Figure($"{figurePrefix}_allocated_bytes_per_job", Math.Round(perJob));
        report.Figure($"{figurePrefix}_gc_pause_ms", Math.Round(paused.TotalMilliseconds));

        // While a collection runs, every thread of the silo and the client stands still: a claim's reply waits for it.
        return $"allocated {perJob / 1024:0.0} KiB per job (silo+client), collections gen0 {GC.CollectionCount(0) - _collections[0]} · gen1 {GC.CollectionCount(1) - _collections[1]} · gen2 {GC.CollectionCount(2) - _collections[2]}, " +
            $"paused by them {paused.TotalMilliseconds:0} ms ({paused / _clock.Elapsed * 100:0.0} % of the row)";
    }
}

/// <summary>One silo hosted in this process: IJobClient throughput (batches, one by one) and open-loop latency.</summary>
internal static class InProcessBenchmarks
{
    public static async Task RunAsync(BenchOptions options, RedisServer redis, Report report, Dictionary<string, double> throughput, bool client, bool latency)
    {
        var db = redis.Connection.GetDatabase();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["Orleans:ClusterId"] = $"bench-{Guid.NewGuid():N}",
            ["Orleans:Endpoints:SiloPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:GatewayPort"] = Ports.Free().ToString(CultureInfo.InvariantCulture),
            ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
        });
        builder.UseOrleans(silo =>
        {
            silo.UseRedisClustering(o => o.ConfigurationOptions = WorkerSiloBuilderExtensions.RedisOptions(redis.ConnectionString));
            silo.AddOrleansWorker(w => w.BindConfiguration(builder.Configuration.GetSection("Worker")).UseRedisJobStore(redis.ConnectionString).AddBuiltInHandlers());
        });
        builder.Services.AddJobClient(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(60));
        try
        {
            var jobs = host.Services.GetRequiredService<IJobClient>();

            // Warm-up through both paths, so the JIT has compiled (and re-compiled with profile data) what they run.
            var clock = Stopwatch.StartNew();
            foreach (var chunk in Enumerable.Range(0, options.Warmup).Chunk(500))
            {
                await jobs.EnqueueManyAsync(chunk.Select(i => new JobRequest("noop") { Id = $"warm-{i}" }).ToList());
            }

            await Parallel.ForEachAsync(Enumerable.Range(0, options.Warmup), new ParallelOptions { MaxDegreeOfParallelism = options.Concurrency },
                async (i, ct) => await jobs.EnqueueAsync(new JobRequest("noop") { Id = $"warm1-{i}" }, ct));
            await Wait.SucceededAsync(db, 2L * options.Warmup);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"client warm-up: {2 * options.Warmup:N0} jobs in {clock.Elapsed.TotalSeconds:0.0} s"));

            if (client)
            {
                using var types = Environment.GetEnvironmentVariable("OW_BENCH_ALLOC_TYPES") == "1" ? new AllocationTypes() : null;
                foreach (var n in options.Ns)
                {
                    types?.Top(0, 1);
                    await BatchesAsync(jobs, db, redis, n, report, throughput);
                    Console.WriteLine(types?.Top(30, n));
                    await OneByOneAsync(jobs, db, redis, n, options.Concurrency, report, throughput);
                    Console.WriteLine(types?.Top(30, n));
                }
            }

            if (latency)
            {
                await LatencyAsync(jobs, db, options.Rate, options.Seconds, report);
            }
        }
        finally
        {
            await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
    }

    /// <summary>
    /// The <c>client</c> rows in a process of their own, started for this call (<c>--rounds</c>): so every round of ours
    /// starts with the JIT as cold as BullMQ's fresh node process, not with the code an earlier round compiled. The child
    /// prints its rows and figures; they go into this report, and its throughput into <paramref name="throughput"/>.
    /// </summary>
    public static async Task RunInChildAsync(BenchOptions options, RedisServer redis, Report report, Dictionary<string, double> throughput)
    {
        var info = new ProcessStartInfo("dotnet",
        [
            typeof(InProcessBenchmarks).Assembly.Location, "--client-child", redis.Port.ToString(CultureInfo.InvariantCulture), redis.Pid.ToString(CultureInfo.InvariantCulture),
            "--n", string.Join(',', options.Ns), "--warmup", options.Warmup.ToString(CultureInfo.InvariantCulture), "--concurrency", options.Concurrency.ToString(CultureInfo.InvariantCulture),
        ])
        {
            RedirectStandardOutput = true,
        };
        using var child = Process.Start(info) ?? throw new InvalidOperationException("the client child did not start");
        Children.Track(child);
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("| ", StringComparison.Ordinal) && line.EndsWith(" |", StringComparison.Ordinal) && line[2..^2].Split(" | ", 3) is [var label, var value, var notes])
            {
                report.Row(label, value, notes);
            }
            else if (line.Split(' ') is ["figure", var name, var number])
            {
                var figure = double.Parse(number, CultureInfo.InvariantCulture);
                report.Figure(name, figure);
                if (name.StartsWith("throughput_", StringComparison.Ordinal) && name.EndsWith("_jobs_per_second", StringComparison.Ordinal))
                {
                    throughput[name["throughput_".Length..^"_jobs_per_second".Length]] = figure;
                }
            }
            else
            {
                Console.WriteLine(line);
            }
        }

        await child.WaitForExitAsync();
        Children.Forget(child);
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"the client child exited with code {child.ExitCode}");
        }
    }

    /// <summary>The child of <see cref="RunInChildAsync"/>: the client rows against the harness' redis-server.</summary>
    public static async Task<int> ChildAsync(int port, int pid, BenchOptions options)
    {
        await using var redis = await RedisServer.AttachAsync(port, pid);
        await RunAsync(options, redis, new Report(), [], client: true, latency: false);
        return 0;
    }

    // (a) Batches of 500, 8 in flight; counted when Succeeded is stored in Redis.
    private static async Task BatchesAsync(IJobClient jobs, StackExchange.Redis.IDatabase db, RedisServer redis, int n, Report report, Dictionary<string, double> throughput)
    {
        var baseline = await db.SortedSetLengthAsync(Wait.SucceededKey);
        var cpu = new CpuMeter(("redis", redis.Pid));
        var allocations = new AllocationMeter();
        var clock = Stopwatch.StartNew();
        await Submit.BatchesAsync(jobs, n, 500, 8, $"a{n}-");
        var submitted = clock.Elapsed;
        var doneWhileSubmitting = await db.SortedSetLengthAsync(Wait.SucceededKey) - baseline;
        await Wait.SucceededAsync(db, baseline + n);
        var total = clock.Elapsed;
        var rate = n / total.TotalSeconds;
        throughput[$"client_batch_n{n}"] = rate;
        var cpuText = cpu.Describe("silo+client", report, $"client_batch_n{n}");
        var allocText = allocations.Describe(n, report, $"client_batch_n{n}");

        // The row's two parts: while batches still arrive (the inserts share both cores with the claims), and the drain.
        var during = doneWhileSubmitting / submitted.TotalSeconds;
        var after = (n - doneWhileSubmitting) / (total - submitted).TotalSeconds;
        report.Figure($"client_batch_n{n}_while_submitting_jobs_per_second", Math.Round(during));
        report.Figure($"client_batch_n{n}_after_submitting_jobs_per_second", Math.Round(after));
        report.Row($"durable no-op jobs/s, `IJobClient` batches of 500 (8 in flight), silo in-process, N = {n:N0}", $"**{rate:N0}**",
            $"submit {submitted.TotalSeconds:0.00} s ({doneWhileSubmitting:N0} Succeeded meanwhile, {during:N0} jobs/s), all Succeeded after {total.TotalSeconds:0.00} s (the rest at {after:N0} jobs/s); {cpuText}; {allocText}");
        report.Figure($"throughput_client_batch_n{n}_jobs_per_second", Math.Round(rate));
    }

    // (b) One EnqueueAsync per job, bounded concurrency.
    private static async Task OneByOneAsync(IJobClient jobs, StackExchange.Redis.IDatabase db, RedisServer redis, int n, int concurrency, Report report, Dictionary<string, double> throughput)
    {
        var baseline = await db.SortedSetLengthAsync(Wait.SucceededKey);
        var cpu = new CpuMeter(("redis", redis.Pid));
        var allocations = new AllocationMeter();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = concurrency },
            async (i, ct) => await jobs.EnqueueAsync(new JobRequest("noop") { Id = $"b{n}-{i}" }, ct));
        var submitted = clock.Elapsed;
        await Wait.SucceededAsync(db, baseline + n);
        var total = clock.Elapsed;
        var rate = n / total.TotalSeconds;
        throughput[$"client_single_n{n}"] = rate;
        var cpuText = cpu.Describe("silo+client", report, $"client_single_n{n}");
        var allocText = allocations.Describe(n, report, $"client_single_n{n}");
        report.Row($"durable no-op jobs/s, `IJobClient.EnqueueAsync` one by one ({concurrency} in flight), silo in-process, N = {n:N0}", $"**{rate:N0}**",
            $"submit {submitted.TotalSeconds:0.00} s, all Succeeded after {total.TotalSeconds:0.00} s; {cpuText}; {allocText}");
        report.Figure($"throughput_client_single_n{n}_jobs_per_second", Math.Round(rate));
    }

    private static void Sleep(TimeSpan wait)
    {
        if (OperatingSystem.IsLinux())
        {
            _ = NativeSleep.usleep((uint)wait.TotalMicroseconds);
        }
        else
        {
            Thread.Sleep(wait);
        }
    }

    // Latency at a steady offered rate, open loop: measured from each job's intended send time (no coordinated omission).
    private static async Task LatencyAsync(IJobClient jobs, StackExchange.Redis.IDatabase db, int rate, int seconds, Report report)
    {
        var baseline = await db.SortedSetLengthAsync(Wait.SucceededKey);
        var count = rate * seconds;
        var intended = new long[count];
        var sent = new double[count];
        var start = Stopwatch.GetTimestamp();
        // The one wall-clock reading: the store's `started` field is Unix ms, so the schedule is anchored to it once and
        // then advanced by the Stopwatch.
        var startWall = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var sends = new List<Task>(count);
        // The sender is a thread of its own that sleeps until each job's time (usleep: Thread.Sleep and Task.Delay wake
        // 1–2 ms late here, which the figures would then count). It must not spin: a spinning sender holds one of this
        // machine's two cores for the whole run, and what it measures then is the silo and Redis squeezed onto the other.
        // Whatever lateness is left is measured (the lag line) and counted against us: latency runs from intended time.
        var sender = new Thread(() =>
        {
            for (var i = 0; i < count; i++)
            {
                var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.FromMicroseconds(20))
                {
                    Sleep(wait);
                }

                intended[i] = (long)(startWall + (i * 1000.0 / rate));
                sent[i] = startWall + Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                sends.Add(jobs.EnqueueAsync(new JobRequest("noop") { Id = $"l-{i}" }));
            }
        }) { IsBackground = true, Name = "latency sender" };
        sender.Start();
        sender.Join();

        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromMinutes(5));
        await Wait.SucceededAsync(db, baseline + count);
        var latencies = new double[count];
        var lags = new double[count];
        var batch = db.CreateBatch();
        var reads = Enumerable.Range(0, count).Select(i => batch.HashGetAsync($"{{ow:0}}:j:l-{i}", "started")).ToList();
        batch.Execute();
        for (var i = 0; i < count; i++)
        {
            latencies[i] = (long)await reads[i] - intended[i];
            lags[i] = sent[i] - intended[i];
        }

        Array.Sort(lags);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"latency sender lag p50 {lags[count / 2]:0.00} p99 {lags[(int)(count * 0.99)]:0.00} max {lags[^1]:0.00} ms"));

        Array.Sort(latencies);
        double P(double q) => latencies[Math.Min(count - 1, (int)(q * count))];
        report.Row($"enqueue → attempt start at {rate:N0}/s for {seconds} s (open loop, one-by-one `IJobClient` submits, silo in-process)",
            $"p50 **{P(0.5):0} ms** · p95 {P(0.95):0} · p99 **{P(0.99):0}** · max {latencies[^1]:0}", "from each job's intended send time; ms resolution (store timestamps)");
        report.Figure("latency_p50_ms", P(0.5));
        report.Figure("latency_p95_ms", P(0.95));
        report.Figure("latency_p99_ms", P(0.99));
        report.Figure("latency_max_ms", latencies[^1]);
    }
}

internal static class NativeSleep
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    internal static extern int usleep(uint microseconds);
}
