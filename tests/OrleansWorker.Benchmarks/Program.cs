using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansWorker;
using OrleansWorker.Client;
using OrleansWorker.Hosting;
using StackExchange.Redis;

// Durable no-op throughput and enqueue→start latency of one silo against a real redis-server on loopback.
// Usage: dotnet run -c Release --project tests/OrleansWorker.Benchmarks [-- N [rate] [seconds]]
var n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20_000;
var rate = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000;
var seconds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 10;

var port = FreePort();
var dir = Directory.CreateTempSubdirectory("ow-bench-").FullName;
using var redisProcess = Process.Start(new ProcessStartInfo("redis-server", ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]) { RedirectStandardOutput = true })!;
try
{
    var cs = $"127.0.0.1:{port}";
    var redis = await ConnectWithRetryAsync(cs);
    var db = redis.GetDatabase();

    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Warning);
    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
    {
        ["ConnectionStrings:redis"] = cs,
        ["Orleans:Endpoints:SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
        ["Orleans:Endpoints:GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
        ["Orleans:Endpoints:AdvertisedIPAddress"] = "127.0.0.1",
        ["Worker:MaxConcurrentJobs"] = "2000",
    });
    builder.UseOrleans(silo => silo.AddOrleansWorker(builder.Configuration));
    builder.Services.AddJobClient(builder.Configuration);
    using var host = builder.Build();
    await host.StartAsync();
    var jobs = host.Services.GetRequiredService<IJobClient>();

    // Warm-up.
    await jobs.EnqueueManyAsync(Enumerable.Range(0, 2000).Select(i => new JobRequest("noop") { Id = $"warm-{i}" }).ToList());
    await WaitSucceededAsync(db, 2000);

    // 1. Throughput: batches of 500, 8 in flight; counted when Succeeded is stored in Redis.
    var clock = Stopwatch.StartNew();
    var batches = Enumerable.Range(0, (n + 499) / 500).Select(b => Enumerable.Range(b * 500, Math.Min(500, n - (b * 500))).Select(i => new JobRequest("noop") { Id = $"t-{i}" }).ToList()).ToList();
    await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (batch, ct) => await jobs.EnqueueManyAsync(batch, ct));
    var submitted = clock.Elapsed;
    await WaitSucceededAsync(db, 2000 + n);
    var total = clock.Elapsed;
    Console.WriteLine($"| durable no-op jobs/s, IJobClient batches of 500 (N={n}) | {n / total.TotalSeconds:0} | submit took {submitted.TotalSeconds:0.00} s, all Succeeded after {total.TotalSeconds:0.00} s |");
    Console.WriteLine($"figure throughput_batch_jobs_per_second {n / total.TotalSeconds:0}");

    // 2. Latency at a steady offered rate, open loop: measured from each job's intended send time.
    var count = rate * seconds;
    var intended = new long[count];
    var start = Stopwatch.GetTimestamp();
    var startWall = DateTimeOffset.UtcNow;
    var sends = new List<Task>(count);
    for (var i = 0; i < count; i++)
    {
        var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
        while (Stopwatch.GetTimestamp() < due)
        {
            if (due - Stopwatch.GetTimestamp() > Stopwatch.Frequency / 1000)
            {
                await Task.Delay(1);
            }
            else
            {
                Thread.SpinWait(50);
            }
        }

        intended[i] = (long)(startWall.ToUnixTimeMilliseconds() + (i * 1000.0 / rate));
        sends.Add(jobs.EnqueueAsync(new JobRequest("noop") { Id = $"l-{i}" }));
    }

    await Task.WhenAll(sends);
    await WaitSucceededAsync(db, 2000 + n + count);
    var latencies = new double[count];
    var batch = db.CreateBatch();
    var reads = Enumerable.Range(0, count).Select(i => batch.HashGetAsync($"ow:job:l-{i}", "started")).ToList();
    batch.Execute();
    for (var i = 0; i < count; i++)
    {
        latencies[i] = (long)await reads[i] - intended[i];
    }

    Array.Sort(latencies);
    double P(double q) => latencies[Math.Min(count - 1, (int)(q * count))];
    Console.WriteLine($"| enqueue→start latency at {rate}/s for {seconds} s (ms, open loop, one-by-one submits) | p50 {P(0.5):0} · p95 {P(0.95):0} · p99 {P(0.99):0} · max {latencies[^1]:0} | ms resolution (store timestamps) |");
    Console.WriteLine($"figure latency_p50_ms {P(0.5):0}");
    Console.WriteLine($"figure latency_p99_ms {P(0.99):0}");
    await host.StopAsync();
}
finally
{
    redisProcess.Kill();
    Directory.Delete(dir, recursive: true);
}

static async Task WaitSucceededAsync(IDatabase db, long expected)
{
    var deadline = Stopwatch.StartNew();
    while (await db.SortedSetLengthAsync("ow:idx:Succeeded") < expected)
    {
        if (deadline.Elapsed > TimeSpan.FromMinutes(10))
        {
            throw new TimeoutException($"Not all {expected} jobs succeeded within 10 minutes.");
        }

        await Task.Delay(5);
    }
}

static async Task<ConnectionMultiplexer> ConnectWithRetryAsync(string cs)
{
    for (var i = 0; ; i++)
    {
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(cs);
        }
        catch (RedisConnectionException) when (i < 50)
        {
            await Task.Delay(100);
        }
    }
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}
