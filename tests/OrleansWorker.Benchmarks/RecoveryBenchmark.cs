using System.Diagnostics;
using System.Net;
using System.Text;
using StackExchange.Redis;

namespace OrleansWorker.Benchmarks;

/// <summary>Three silo processes on one Redis and ClusterId; kill -9 one; seconds until its running jobs run again elsewhere.</summary>
internal static class RecoveryBenchmark
{
    private const int Jobs = 60;
    private const int SleepMs = 2000;

    public static async Task RunAsync(Report report)
    {
        await using var redis = await RedisServer.StartAsync();
        var cluster = $"bench-recovery-{Guid.NewGuid():N}";
        var capacity = new Dictionary<string, string> { ["Worker__MaxConcurrentJobs"] = "20" };
        var silos = new List<SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                silos.Add(await SiloProcess.StartAsync($"silo-{i}", redis, cluster, capacity));
            }

            var db = redis.Connection.GetDatabase();
            var ids = Enumerable.Range(0, Jobs).Select(i => $"r-{i}").ToList();
            var body = "[" + string.Join(",", ids.Select(id => $"{{\"type\":\"sleep\",\"id\":\"{id}\",\"payload\":{{\"ms\":{SleepMs}}}}}")) + "]";
            using (var content = new StringContent(body, Encoding.UTF8, "application/json"))
            using (var response = await silos[0].Http.PostAsync(new Uri("/jobs/batch", UriKind.Relative), content))
            {
                if (response.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"POST /jobs/batch answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
            }

            // Wait until every silo runs some, then kill -9 the one running the most.
            Dictionary<string, (string State, string Owner, long Started)> jobs = [];
            await Wait.UntilAsync(async () =>
            {
                jobs = await ReadAsync(db, ids);
                return silos.All(s => jobs.Values.Any(j => j.State == "Running" && j.Owner.StartsWith(s.OwnerPrefix, StringComparison.Ordinal)));
            }, TimeSpan.FromSeconds(30), "each of the three silos to run some of the sleep jobs", 50);
            var victim = silos.MaxBy(s => jobs.Values.Count(j => j.State == "Running" && j.Owner.StartsWith(s.OwnerPrefix, StringComparison.Ordinal)))!;
            var onVictim = jobs.Where(j => j.Value.State == "Running" && j.Value.Owner.StartsWith(victim.OwnerPrefix, StringComparison.Ordinal)).ToDictionary(j => j.Key, j => j.Value.Started);

            victim.Kill();
            var clock = Stopwatch.StartNew();
            // Anchors the kill to the store's Unix-ms timestamps; everything else is timed by the Stopwatch.
            var killedAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var rerunAt = new Dictionary<string, TimeSpan>();
            long latestRestartMs = 0;
            await Wait.UntilAsync(async () =>
            {
                var now = await ReadAsync(db, onVictim.Keys);
                foreach (var (id, job) in now)
                {
                    if (!rerunAt.ContainsKey(id) && job.Started != onVictim[id] && !job.Owner.StartsWith(victim.OwnerPrefix, StringComparison.Ordinal))
                    {
                        rerunAt[id] = clock.Elapsed;
                        latestRestartMs = Math.Max(latestRestartMs, job.Started);
                    }
                }

                return rerunAt.Count == onVictim.Count;
            }, TimeSpan.FromSeconds(180), $"the {onVictim.Count} jobs of the killed silo to start again elsewhere", 50);
            var recovery = rerunAt.Values.Max();
            var fromStamps = (latestRestartMs - killedAtMs) / 1000.0;

            await Wait.UntilAsync(async () => (await ReadAsync(db, ids)).Values.All(j => j.State == "Succeeded"), TimeSpan.FromSeconds(120), $"all {Jobs} sleep jobs to succeed after the kill", 100);
            report.Row("recovery: kill -9 of one of three silo processes → its running jobs started again elsewhere",
                $"**{recovery.TotalSeconds:0.0} s** (store timestamps: {fromStamps:0.0} s)",
                $"{onVictim.Count} of {Jobs} `sleep` {SleepMs} ms jobs were running on it (capacity 20 per silo); all {Jobs} Succeeded afterwards, 0 lost; goal ≤ 15 s");
            report.Figure("recovery_seconds", Math.Round(recovery.TotalSeconds, 2));
            report.Figure("recovery_seconds_store_timestamps", fromStamps);
            report.Figure("recovery_jobs_on_killed_silo", onVictim.Count);
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static async Task<Dictionary<string, (string State, string Owner, long Started)>> ReadAsync(IDatabase db, IEnumerable<string> ids)
    {
        var result = new Dictionary<string, (string, string, long)>();
        foreach (var id in ids)
        {
            var f = await db.HashGetAsync($"{{ow:0}}:j:{id}", ["state", "owner", "started"]);
            result[id] = ((string?)f[0] ?? "", (string?)f[1] ?? "", f[2].IsNull ? 0 : (long)f[2]);
        }

        return result;
    }
}
