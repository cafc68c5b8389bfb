using System.Diagnostics;
using System.Net;
using System.Text;

namespace OrleansWorker.Benchmarks;

/// <summary>Submission over real HTTP to a worker host started as a separate process.</summary>
internal static class HttpSubmit
{
    private static readonly Uri Batch = new("/jobs/batch", UriKind.Relative);
    private static readonly Uri Single = new("/jobs", UriKind.Relative);

    /// <summary>POSTs <c>/jobs/batch</c> with ≤ 1000 no-op jobs per request, <paramref name="inFlight"/> requests at once.</summary>
    public static Task BatchesAsync(HttpClient http, string idPrefix, int n, int inFlight, string? queue = null, int perRequest = 1000) =>
        Parallel.ForEachAsync(Enumerable.Range(0, (n + perRequest - 1) / perRequest), new ParallelOptions { MaxDegreeOfParallelism = inFlight }, async (b, ct) =>
        {
            var body = new StringBuilder(64 * perRequest).Append('[');
            for (var i = b * perRequest; i < Math.Min(n, (b + 1) * perRequest); i++)
            {
                body.Append(i == b * perRequest ? "" : ",").Append("{\"type\":\"noop\",\"id\":\"").Append(idPrefix).Append(i).Append('"');
                if (queue is not null)
                {
                    body.Append(",\"queue\":\"").Append(queue).Append('"');
                }

                body.Append('}');
            }

            using var content = new StringContent(body.Append(']').ToString(), Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(Batch, content, ct);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"POST /jobs/batch answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            }
        });

    /// <summary>POSTs <c>/jobs</c> once per job, <paramref name="inFlight"/> at once.</summary>
    public static Task OneByOneAsync(HttpClient http, string idPrefix, int n, int inFlight) =>
        Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = inFlight }, async (i, ct) =>
        {
            using var content = new StringContent($"{{\"type\":\"noop\",\"id\":\"{idPrefix}{i}\"}}", Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(Single, content, ct);
            if (response.StatusCode != HttpStatusCode.Accepted)
            {
                throw new InvalidOperationException($"POST /jobs answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
            }
        });
}

/// <summary>(c) <c>POST /jobs/batch</c> and (d) <c>POST /jobs</c> against one worker host process.</summary>
internal static class HttpBenchmarks
{
    public static async Task RunAsync(BenchOptions options, Report report, Dictionary<string, double> throughput)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var silo = await SiloProcess.StartAsync("silo-http", redis, $"bench-http-{Guid.NewGuid():N}");
        var db = redis.Connection.GetDatabase();

        // The first jobs after the host starts run on code the JIT has not optimised yet: measured on their own ("cold"),
        // then the warm-up goes on until the steady code is in (one-by-one included, which runs more of the HTTP stack).
        var cold = Math.Min(options.Warmup, 100_000);
        var coldCpu = new CpuMeter(("silo", silo.Pid), ("redis", redis.Pid));
        var coldClock = Stopwatch.StartNew();
        await HttpSubmit.BatchesAsync(silo.Http, "warm-", cold, 4);
        await Wait.SucceededAsync(db, cold);
        var coldRate = cold / coldClock.Elapsed.TotalSeconds;
        var coldCpuText = coldCpu.Describe("client", report, $"http_batch_cold_n{cold}");
        report.Row($"durable no-op jobs/s, `POST /jobs/batch` of 1,000 (4 in flight), silo process, **cold**: the first {cold:N0} jobs after it started", $"**{coldRate:N0}**",
            $"all Succeeded after {coldClock.Elapsed.TotalSeconds:0.00} s; {coldCpuText}");
        report.Figure($"throughput_http_batch_cold_n{cold}_jobs_per_second", Math.Round(coldRate));
        var singles = Math.Min(options.Warmup, 10_000);
        await HttpSubmit.OneByOneAsync(silo.Http, "warm1-", singles, options.Concurrency);
        await HttpSubmit.BatchesAsync(silo.Http, "warm2-", options.Warmup, 4);
        await Wait.SucceededAsync(db, cold + singles + options.Warmup);
        foreach (var n in options.Ns)
        {
            foreach (var single in new[] { false, true })
            {
                var baseline = await db.SortedSetLengthAsync(Wait.SucceededKey);
                var cpu = new CpuMeter(("silo", silo.Pid), ("redis", redis.Pid));
                var clock = Stopwatch.StartNew();
                if (single)
                {
                    await HttpSubmit.OneByOneAsync(silo.Http, $"h1-{n}-", n, options.Concurrency);
                }
                else
                {
                    await HttpSubmit.BatchesAsync(silo.Http, $"hb-{n}-", n, 4);
                }

                var submitted = clock.Elapsed;
                await Wait.SucceededAsync(db, baseline + n);
                var total = clock.Elapsed;
                var rate = n / total.TotalSeconds;
                var mode = single ? "http_single" : "http_batch";
                throughput[$"{mode}_n{n}"] = rate;
                var cpuText = cpu.Describe("client", report, $"{mode}_n{n}");
                var how = single ? $"`POST /jobs` one by one ({options.Concurrency} in flight)" : "`POST /jobs/batch` of 1,000 (4 in flight)";
                report.Row($"durable no-op jobs/s, {how}, silo process, N = {n:N0}", $"**{rate:N0}**",
                    $"submit {submitted.TotalSeconds:0.00} s, all Succeeded after {total.TotalSeconds:0.00} s; {cpuText}");
                report.Figure($"throughput_{mode}_n{n}_jobs_per_second", Math.Round(rate));
            }
        }
    }
}
