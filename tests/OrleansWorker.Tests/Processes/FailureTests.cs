using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>Real redis-server and real silo processes: kill -9 and SIGTERM.</summary>
[Collection("processes")]
public sealed class FailureTests(ITestOutputHelper output) : ProcessClusterTest
{
    private Task<HostProcess> StartSiloAsync(string name, IDictionary<string, string>? extra = null)
    {
        // Small capacity so that a batch spreads over both silos instead of filling the first one.
        var settings = new Dictionary<string, string> { ["Worker__MaxConcurrentJobs"] = "8" };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>())
        {
            settings[k] = v;
        }

        return Cluster.StartSiloAsync(name, settings);
    }

    private static async Task SubmitAsync(HostProcess via, IEnumerable<object> jobs)
    {
        using var response = await via.Http.PostAsJsonAsync("/jobs/batch", jobs);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
    }

    private static async Task<List<JsonElement>> GetJobsAsync(HostProcess via, IEnumerable<string> ids)
    {
        var jobs = new List<JsonElement>();
        foreach (var id in ids)
        {
            jobs.Add(await via.GetJsonAsync($"/jobs/{id}"));
        }

        return jobs;
    }

    private static string Silo(HostProcess host) => ProcessCluster.SiloPrefix(host);

    [Fact]
    public async Task Kill9_RunningJobs_RunAgainOnSurvivor_AndCutShortAttemptIsRecorded()
    {
        var a = await StartSiloAsync("silo-a");
        var b = await StartSiloAsync("silo-b");
        var ids = Enumerable.Range(0, 30).Select(i => $"k9-{i}").ToList();
        await SubmitAsync(b, ids.Select(id => new { type = "sleep", id, payload = new { ms = 2000 } }));

        var onA = await Poll.UntilAsync(async () => (await GetJobsAsync(b, ids)).Where(j => j.GetProperty("silo").GetString()?.StartsWith(Silo(a), StringComparison.Ordinal) == true).Select(j => j.GetProperty("id").GetString()!).ToList(),
            l => l.Count > 0, TimeSpan.FromSeconds(20), "some jobs to be running on silo A");
        a.Kill();
        var killedAt = DateTimeOffset.UtcNow;

        var finished = await Poll.UntilAsync(() => GetJobsAsync(b, ids), l => l.All(j => j.GetProperty("state").GetString() == "Succeeded"),
            TimeSpan.FromSeconds(60), "every job to succeed after silo A was killed");

        var recovery = TimeSpan.Zero;
        foreach (var id in onA)
        {
            var job = finished.Single(j => j.GetProperty("id").GetString() == id);
            var attempts = job.GetProperty("attempts").EnumerateArray().ToList();
            var cut = attempts.FirstOrDefault(x => x.GetProperty("outcome").GetString() == "Interrupted");
            Assert.True(cut.ValueKind == JsonValueKind.Object, $"job {id} records its cut-short attempt on the killed silo");
            Assert.StartsWith(Silo(a), cut.GetProperty("silo").GetString(), StringComparison.Ordinal);
            var rerun = attempts.Last();
            Assert.Equal("Succeeded", rerun.GetProperty("outcome").GetString());
            Assert.StartsWith(Silo(b), rerun.GetProperty("silo").GetString(), StringComparison.Ordinal);
            var startedAgain = rerun.GetProperty("startedAt").GetDateTimeOffset() - killedAt;
            recovery = startedAgain > recovery ? startedAgain : recovery;
        }

        output.WriteLine($"RESULT kill -9: {onA.Count} jobs were running on the killed silo; all {ids.Count} succeeded; lost 0; slowest re-run started {recovery.TotalSeconds:0.0} s after the kill.");
    }

    [Fact]
    public async Task Sigterm_DrainsRunningAttempts_NothingLostNothingTwice()
    {
        var a = await StartSiloAsync("silo-a", new Dictionary<string, string> { ["Worker__DrainTimeout"] = "00:00:20" });
        var b = await StartSiloAsync("silo-b");
        var ids = Enumerable.Range(0, 40).Select(i => $"term-{i}").ToList();
        await SubmitAsync(b, ids.Select(id => new { type = "sleep", id, payload = new { ms = 1500 } }));
        var onA = await Poll.UntilAsync(async () => (await GetJobsAsync(b, ids)).Where(j => j.GetProperty("silo").GetString()?.StartsWith(Silo(a), StringComparison.Ordinal) == true).Select(j => j.GetProperty("id").GetString()!).ToList(),
            l => l.Count > 0, TimeSpan.FromSeconds(20), "some jobs to be running on silo A");

        var clock = Stopwatch.StartNew();
        a.Terminate();
        await a.WaitForExitAsync(TimeSpan.FromSeconds(45));
        output.WriteLine($"RESULT scenario 2, SIGTERM: silo A exited after {clock.Elapsed.TotalSeconds:0.0} s (drain timeout 20 s) with code {a.ExitCode}; {onA.Count} attempts were running on it.");

        var finished = await Poll.UntilAsync(() => GetJobsAsync(b, ids), l => l.All(j => j.GetProperty("state").GetString() == "Succeeded"),
            TimeSpan.FromSeconds(60), "every job to succeed after silo A drained");
        foreach (var job in finished)
        {
            var attempts = job.GetProperty("attempts").EnumerateArray().ToList();
            Assert.True(attempts.Count == 1, $"job {job.GetProperty("id")} ran once (attempts: {attempts.Count})");
        }

        foreach (var id in onA)
        {
            var attempt = finished.Single(j => j.GetProperty("id").GetString() == id).GetProperty("attempts")[0];
            Assert.StartsWith(Silo(a), attempt.GetProperty("silo").GetString(), StringComparison.Ordinal);
        }

        Assert.Contains(finished, j => j.GetProperty("attempts")[0].GetProperty("silo").GetString()!.StartsWith(Silo(b), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AcceptedJob_SurvivesKillOfTheSiloThatAcceptedIt()
    {
        var a = await StartSiloAsync("silo-a", new Dictionary<string, string> { ["Worker__Queues__0"] = "elsewhere" });
        var id = "accepted-then-killed";
        using (var response = await a.Http.PostAsJsonAsync("/jobs", new { type = "echo", id, payload = new { n = 1 } }))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        }

        a.Kill();

        // A new cluster over the same Redis: joining A's cluster would wait for membership to declare A dead first.
        var b = await StartSiloAsync("silo-b", new Dictionary<string, string> { ["Orleans__ClusterId"] = "after-the-kill" });
        var job = await Poll.UntilAsync(() => b.GetJsonAsync($"/jobs/{id}"), j => j.TryGetProperty("state", out var s) && s.GetString() == "Succeeded",
            TimeSpan.FromSeconds(30), "the job accepted by the killed silo to run on the new one");
        Assert.Equal(1, job.GetProperty("result").GetProperty("n").GetInt32());
    }
}
