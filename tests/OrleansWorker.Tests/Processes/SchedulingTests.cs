using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OrleansWorker.Tests.Infrastructure;
using Xunit.Abstractions;

namespace OrleansWorker.Tests.Processes;

/// <summary>
/// Recurring jobs, continuations and batches (issue 13) with real silo processes on a real redis-server: a schedule
/// firing every second across two silos while one is killed (-9) and restarted, a continuation chain and a fan-in
/// across queues, a failed dependency, and a batch of 1,000 with a completion job while a silo is killed. Each prints
/// a RESULT line with its figures.
/// </summary>
[Collection("processes")]
public sealed class SchedulingTests(ITestOutputHelper output) : ProcessClusterTest
{
    private static Dictionary<string, string> Capacity(int max) => new() { ["Worker__MaxConcurrentJobs"] = max.ToString(CultureInfo.InvariantCulture) };

    private static async Task<JsonElement> SendAsync(HttpResponseMessage response, HttpStatusCode expected, string what)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == expected, $"{what}: expected {(int)expected}, got {(int)response.StatusCode} {body}");
            return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        }
    }

    private static async Task<JsonElement> SubmitAsync(HostProcess via, object job) =>
        await SendAsync(await via.Http.PostAsJsonAsync("/jobs", job), HttpStatusCode.Accepted, $"POST /jobs {JsonSerializer.Serialize(job)}");

    private static async Task<Dictionary<string, JsonElement>> GetJobsAsync(HostProcess via, params string[] ids)
    {
        var jobs = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            jobs[id] = await via.GetJsonAsync($"/jobs/{Uri.EscapeDataString(id)}");
        }

        return jobs;
    }

    /// <summary>A <c>dependsOn</c> list.</summary>
    private static List<string> Ids(params string[] ids) => [.. ids];

    private static string State(JsonElement job) => job.TryGetProperty("state", out var s) ? s.GetString() ?? "" : "";

    private static bool Finished(JsonElement job) => State(job) is "Succeeded" or "DeadLettered" or "Cancelled";

    private static List<JsonElement> Attempts(JsonElement job) => job.GetProperty("attempts").EnumerateArray().ToList();

    private static DateTimeOffset StartedAt(JsonElement job) => Attempts(job)[^1].GetProperty("startedAt").GetDateTimeOffset();

    private static DateTimeOffset FinishedAt(JsonElement job) => job.GetProperty("finishedAt").GetDateTimeOffset();

    private static bool RunsOn(JsonElement job, HostProcess silo) =>
        job.TryGetProperty("silo", out var s) && s.GetString()?.StartsWith(ProcessCluster.SiloPrefix(silo), StringComparison.Ordinal) == true;

    private static string Describe(IEnumerable<KeyValuePair<string, JsonElement>> jobs) => string.Join(", ", jobs.Select(j => $"{j.Key}={State(j.Value)}"));

    private static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    [Fact]
    public async Task EverySecondSchedule_TwoSilos_OneKilledAndRestarted_OneJobPerTick_NoGapsNoDuplicates()
    {
        const string Schedule = "every-second";
        const string Queue = "ticks";
        var a = await Cluster.StartSiloAsync("silo-a");
        var b = await Cluster.StartSiloAsync("silo-b");
        var created = await SendAsync(await a.Http.PutAsJsonAsync($"/schedules/{Schedule}", new { cron = "*/1 * * * * *", job = new { type = "noop", queue = Queue } }),
            HttpStatusCode.OK, $"PUT /schedules/{Schedule}");
        var firstTick = created.GetProperty("nextFire").GetDateTimeOffset();
        Assert.Equal(JsonValueKind.Null, created.GetProperty("lastFire").ValueKind);

        // Some ticks on two silos; then kill -9 one of them the moment a tick's job appears (both race for every tick).
        var beforeKill = await Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(a, Queue), l => l.Count >= 4, TimeSpan.FromSeconds(20), "4 ticks to fire on two silos");
        var victimMetrics = await b.Http.GetStringAsync("/metrics");
        await Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(a, Queue), l => l.Count > beforeKill.Count, TimeSpan.FromSeconds(10), "the next tick to fire");
        b.Kill();
        var killedAt = DateTimeOffset.UtcNow;

        // A new process in the victim's place (the same cluster: it joins while the dead one is still in the membership table).
        var restarted = await Cluster.StartSiloAsync("silo-b2");
        var restartedAt = DateTimeOffset.UtcNow;
        await Poll.UntilAsync(async () => (await ProcessCluster.ListQueueAsync(a, Queue)).Count(j => TickOf(j) > restartedAt) >= 3,
            TimeSpan.FromSeconds(20), "3 ticks to fire after the restart");
        await Poll.UntilAsync(async () => (await ProcessCluster.ListQueueAsync(a, Queue)).Count >= 12, TimeSpan.FromSeconds(20), "12 ticks in all");

        // Pausing ends the window: nothing fires after the pause answered.
        var paused = await SendAsync(await restarted.Http.PostAsync($"/schedules/{Schedule}/pause", null), HttpStatusCode.OK, "pause");
        Assert.True(paused.GetProperty("paused").GetBoolean());
        Assert.Equal(JsonValueKind.Null, paused.GetProperty("nextFire").ValueKind);
        var jobs = await Poll.UntilAsync(() => ProcessCluster.ListQueueAsync(a, Queue), l => l.All(j => State(j) == "Succeeded"),
            TimeSpan.FromSeconds(40), "every tick's job to succeed");

        var ids = jobs.Select(j => j.GetProperty("id").GetString()!).ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(jobs, j => Assert.Equal(Schedule, j.GetProperty("scheduleId").GetString()));
        Assert.All(jobs, j => Assert.Matches($"^{Schedule}::[0-9]{{8}}T[0-9]{{6}}Z$", j.GetProperty("id").GetString()!));
        var ticks = jobs.Select(TickOf).Order().ToList();
        var (first, last) = (ticks[0], ticks[^1]);
        Assert.Equal(firstTick, first);
        var gaps = ticks.Zip(ticks.Skip(1)).Where(p => p.Second - p.First != TimeSpan.FromSeconds(1)).Select(p => $"{p.First:HH:mm:ss}→{p.Second:HH:mm:ss}").ToList();
        Assert.True(gaps.Count == 0, $"one job for every second from {first:HH:mm:ss} to {last:HH:mm:ss}; gaps: {string.Join(", ", gaps)}");
        Assert.Equal((int)(last - first).TotalSeconds + 1, jobs.Count);
        Assert.Contains(ticks, t => t < killedAt);
        Assert.Contains(ticks, t => t > killedAt && t < restartedAt);
        Assert.Contains(ticks, t => t > restartedAt);

        // Each tick's job ran once (a second run could only come from an attempt cut short on the killed silo).
        var ranTwice = jobs.Where(j => Attempts(j).Count(x => x.GetProperty("outcome").GetString() == "Succeeded") != 1).Select(j => j.GetProperty("id").GetString()).ToList();
        Assert.True(ranTwice.Count == 0, $"every tick's job succeeded exactly once; not: {string.Join(", ", ranTwice)}");
        var rerun = jobs.Where(j => Attempts(j).Count > 1).ToList();
        Assert.All(rerun.SelectMany(j => Attempts(j).SkipLast(1)), x =>
        {
            Assert.Equal("Interrupted", x.GetProperty("outcome").GetString());
            Assert.StartsWith(ProcessCluster.SiloPrefix(b), x.GetProperty("silo").GetString(), StringComparison.Ordinal);
        });

        // The schedule names the last tick's job, which is the last job there is.
        var view = await a.GetJsonAsync($"/schedules/{Schedule}");
        Assert.Equal(last, view.GetProperty("lastFire").GetProperty("at").GetDateTimeOffset());
        Assert.Equal(ScheduleJobId(Schedule, last), view.GetProperty("lastFire").GetProperty("jobId").GetString());
        Assert.Equal("Succeeded", view.GetProperty("lastFire").GetProperty("state").GetString());
        var listed = (await a.GetJsonAsync("/schedules")).EnumerateArray().Single(s => s.GetProperty("id").GetString() == Schedule);
        Assert.True(listed.GetProperty("paused").GetBoolean());

        // Fires counted by the silos never exceed the jobs (the victim's count was read before its kill), and none misfired.
        var (metricsA, metricsB2) = (await a.Http.GetStringAsync("/metrics"), await restarted.Http.GetStringAsync("/metrics"));
        var survivors = metricsA + metricsB2;
        double Fires(string metrics) => Promtool.Sum(metrics, "worker_schedule_fires_total", $"schedule=\"{Schedule}\"");
        var fires = Fires(metricsA) + Fires(victimMetrics) + Fires(metricsB2);
        Assert.True(fires <= jobs.Count, $"fires counted ({fires}) ≤ jobs ({jobs.Count})");
        Assert.Equal(0, Promtool.Sum(survivors, "worker_schedule_misfires_total"));

        var delays = jobs.Select(j => (j.GetProperty("createdAt").GetDateTimeOffset() - TickOf(j)).TotalMilliseconds).ToList();
        var afterKill = jobs.Where(j => TickOf(j) > killedAt).OrderBy(TickOf).First();
        Assert.True(delays.Max() < TimeSpan.FromSeconds(5).TotalMilliseconds, $"every tick's job was submitted within 5 s of its tick (worst {delays.Max():0} ms)");
        output.WriteLine($"RESULT schedule */1 s, 2 silos, kill -9 of silo-b at {killedAt:HH:mm:ss.fff} and a new silo ready {(restartedAt - killedAt).TotalSeconds:0.0} s later: "
            + $"{jobs.Count} ticks {first:HH:mm:ss}–{last:HH:mm:ss}, one job each, 0 gaps, 0 duplicates, all Succeeded ({rerun.Count} cut short on the killed silo and re-run); "
            + $"job created after its tick: median {Median(delays):0} ms, max {delays.Max():0} ms; first tick after the kill ({TickOf(afterKill):HH:mm:ss}) created after {(afterKill.GetProperty("createdAt").GetDateTimeOffset() - TickOf(afterKill)).TotalMilliseconds:0} ms; "
            + $"fires counted {fires} (silo-a {Fires(metricsA)}, silo-b before its kill {Fires(victimMetrics)}, new silo {Fires(metricsB2)}), misfires 0");

        static DateTimeOffset TickOf(JsonElement job)
        {
            var id = job.GetProperty("id").GetString()!;
            return DateTimeOffset.ParseExact(id[(id.IndexOf("::", StringComparison.Ordinal) + 2)..], "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        }
    }

    private static string ScheduleJobId(string schedule, DateTimeOffset tick) =>
        string.Create(CultureInfo.InvariantCulture, $"{schedule}::{tick.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}");

    [Fact]
    public async Task ContinuationChain_AndFanInAcrossQueues_RunInOrder_AcrossTwoSilos()
    {
        var a = await Cluster.StartSiloAsync("silo-a");
        var b = await Cluster.StartSiloAsync("silo-b");

        // Chain A → B → C, each submitted through a different silo than the one before.
        await SubmitAsync(a, new { id = "chain::a", type = "sleep", queue = "chain", payload = new { ms = 2000 } });
        var chainB = await SubmitAsync(b, new { id = "chain::b", type = "echo", queue = "chain", payload = new { step = "b" }, dependsOn = Ids("chain::a") });
        await SubmitAsync(a, new { id = "chain::c", type = "echo", queue = "chain", payload = new { step = "c" }, dependsOn = Ids("chain::b") });

        // Fan-in: C waits for A and B, three queues.
        await SubmitAsync(a, new { id = "fan::a", type = "sleep", queue = "fan-a", payload = new { ms = 1500 } });
        await SubmitAsync(b, new { id = "fan::b", type = "sleep", queue = "fan-b", payload = new { ms = 3000 } });
        await SubmitAsync(b, new { id = "fan::c", type = "echo", queue = "fan-c", payload = new { step = "fan-in" }, dependsOn = Ids("fan::a", "fan::b") });

        // Precondition: the dependents wait, their dependencies do not.
        Assert.Equal(["chain::a"], chainB.GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()!));
        var early = await GetJobsAsync(a, "chain::a", "chain::b", "chain::c", "fan::a", "fan::b", "fan::c");
        Assert.True(State(early["chain::b"]) == "Waiting" && State(early["chain::c"]) == "Waiting" && State(early["fan::c"]) == "Waiting",
            $"the dependents are Waiting at first: {Describe(early)}");
        string[] dependencies = ["chain::a", "fan::a", "fan::b"];
        Assert.True(dependencies.All(id => State(early[id]) is "Queued" or "Running"), $"the dependencies are not waiting: {Describe(early)}");
        Assert.Empty(Attempts(early["fan::c"]));

        // Half-way through the fan-in: A done, B still running → C still waits.
        var half = await Poll.UntilAsync(() => GetJobsAsync(a, "fan::a", "fan::b", "fan::c"), j => State(j["fan::a"]) == "Succeeded", TimeSpan.FromSeconds(20), "fan::a to succeed");
        var sawHalfWay = !Finished(half["fan::b"]);
        if (sawHalfWay)
        {
            Assert.True(State(half["fan::c"]) == "Waiting", $"fan::c waits while fan::b runs: {Describe(half)}");
        }

        var all = await Poll.UntilAsync(() => GetJobsAsync(b, "chain::a", "chain::b", "chain::c", "fan::a", "fan::b", "fan::c"), j => j.Values.All(Finished),
            TimeSpan.FromSeconds(30), "the chain and the fan-in to finish");
        Assert.True(all.Values.All(j => State(j) == "Succeeded"), $"all succeeded: {Describe(all)}");
        Assert.All(all.Values, j => Assert.Single(Attempts(j)));

        // Order only, no latency bound: a dependent submitted after its dependency was claimed is released by the follow-up
        // sweep (every 3 s), not the fast path — the claim read the dependency's hasDependents flag before the dependent existed.
        var chainBStart = StartedAt(all["chain::b"]) - FinishedAt(all["chain::a"]);
        var chainCStart = StartedAt(all["chain::c"]) - FinishedAt(all["chain::b"]);
        Assert.True(chainBStart >= TimeSpan.Zero, $"chain::b started after chain::a finished ({chainBStart.TotalMilliseconds:0} ms)");
        Assert.True(chainCStart >= TimeSpan.Zero, $"chain::c started after chain::b finished ({chainCStart.TotalMilliseconds:0} ms)");
        var fanLast = new[] { FinishedAt(all["fan::a"]), FinishedAt(all["fan::b"]) }.Max();
        var fanStart = StartedAt(all["fan::c"]) - fanLast;
        Assert.True(fanStart >= TimeSpan.Zero, $"fan::c started after both fan::a and fan::b finished ({fanStart.TotalMilliseconds:0} ms)");
        Assert.True(FinishedAt(all["fan::b"]) > FinishedAt(all["fan::a"]), "fan::b (3 s) finished after fan::a (1.5 s)");
        Assert.Equal("c", all["chain::c"].GetProperty("result").GetProperty("step").GetString());
        Assert.Equal(["fan::a", "fan::b"], all["fan::c"].GetProperty("dependsOn").EnumerateArray().Select(d => d.GetString()!));
        var silos = all.Values.Select(j => Attempts(j)[0].GetProperty("silo").GetString()![..ProcessCluster.SiloPrefix(a).Length]).Distinct().Count();
        output.WriteLine($"RESULT continuations, 2 silos ({silos} of them ran attempts): chain A→B→C all Succeeded in order, B started {chainBStart.TotalMilliseconds:0} ms after A finished, "
            + $"C {chainCStart.TotalMilliseconds:0} ms after B; fan-in over queues fan-a/fan-b/fan-c: C started {fanStart.TotalMilliseconds:0} ms after the later of A and B"
            + (sawHalfWay ? ", and still waited while only A had finished" : ""));
    }

    [Fact]
    public async Task FailedDependency_CancelsDependents_NamingIt_UnlessTheyContinueOnFailure()
    {
        var silo = await Cluster.StartSiloAsync("silo-a");

        // The dependency's queue is paused, so the dependents are seen waiting before it runs.
        await SendAsync(await silo.Http.PutAsJsonAsync("/queues/dep-fail", new { paused = true }), HttpStatusCode.OK, "pause dep-fail");
        await SubmitAsync(silo, new { id = "df::a", type = "fail", queue = "dep-fail", maxAttempts = 1, payload = new { times = 1 } });
        await SubmitAsync(silo, new { id = "df::cancelled", type = "echo", queue = "dep-next", dependsOn = Ids("df::a") });
        await SubmitAsync(silo, new { id = "df::grandchild", type = "echo", queue = "dep-next", dependsOn = Ids("df::cancelled") });
        await SubmitAsync(silo, new { id = "df::runs", type = "echo", queue = "dep-next", payload = new { ran = true }, dependsOn = Ids("df::a"), continueOnDependencyFailure = true });
        string[] ids = ["df::a", "df::cancelled", "df::grandchild", "df::runs"];
        var before = await GetJobsAsync(silo, ids);
        Assert.True(State(before["df::a"]) == "Queued" && ids.Skip(1).All(id => State(before[id]) == "Waiting"), $"A is held, the rest wait: {Describe(before)}");

        await SendAsync(await silo.Http.PostAsync("/queues/dep-fail/resume", null), HttpStatusCode.OK, "resume dep-fail");
        var after = await Poll.UntilAsync(() => GetJobsAsync(silo, ids), j => j.Values.All(Finished), TimeSpan.FromSeconds(30), "A and its dependents to finish");
        Assert.True(State(after["df::a"]) == "DeadLettered", $"A dead-lettered: {Describe(after)}");
        Assert.True(State(after["df::cancelled"]) == "Cancelled" && State(after["df::grandchild"]) == "Cancelled" && State(after["df::runs"]) == "Succeeded", $"outcomes: {Describe(after)}");

        var reason = after["df::cancelled"].GetProperty("lastError");
        Assert.Equal("DependencyFailed", reason.GetProperty("type").GetString());
        Assert.Contains("df::a", reason.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("DeadLettered", reason.GetProperty("message").GetString(), StringComparison.Ordinal);
        var inherited = after["df::grandchild"].GetProperty("lastError").GetProperty("message").GetString();
        Assert.Contains("df::cancelled", inherited, StringComparison.Ordinal);
        Assert.Empty(Attempts(after["df::cancelled"]));
        Assert.Empty(Attempts(after["df::grandchild"]));
        Assert.True(after["df::runs"].GetProperty("result").GetProperty("ran").GetBoolean());
        Assert.True(StartedAt(after["df::runs"]) >= FinishedAt(after["df::a"]), "the job that continues on failure ran after A dead-lettered");
        var settled = FinishedAt(after["df::cancelled"]) - FinishedAt(after["df::a"]);
        output.WriteLine($"RESULT failed dependency: A DeadLettered → dependent Cancelled {settled.TotalMilliseconds:0} ms later (\"{reason.GetProperty("message").GetString()}\"), "
            + $"its own dependent Cancelled naming it, the continueOnDependencyFailure one Succeeded");
    }

    [Fact]
    public async Task BatchOf1000_WithCompletionJob_SiloKilledMidBatch_CompletionRunsOnceAfterTheLastMember()
    {
        const string Batch = "bulk";
        var a = await Cluster.StartSiloAsync("silo-a", Capacity(16));
        var b = await Cluster.StartSiloAsync("silo-b", Capacity(16));
        var random = new Random(13);
        var members = Enumerable.Range(0, 1000).Select(_ => new { type = "sleep", queue = "bulk", payload = new { ms = random.Next(50, 201) } }).ToList();
        var submitted = await SendAsync(await a.Http.PostAsJsonAsync("/batches", new { id = Batch, jobs = members, completion = new { type = "echo", queue = "bulk-done" } }),
            HttpStatusCode.Accepted, "POST /batches");
        Assert.Equal(1000, submitted.GetProperty("batch").GetProperty("total").GetInt32());
        Assert.Equal($"{Batch}::complete", submitted.GetProperty("batch").GetProperty("completionJobId").GetString());
        Assert.Equal(1000, submitted.GetProperty("jobs").EnumerateArray().Count(j => j.GetProperty("created").GetBoolean()));

        // Kill -9 silo B once it runs members; the batch must not have finished by then.
        var onVictim = await Poll.UntilAsync(async () => (await ProcessCluster.ListQueueAsync(a, "bulk")).Count(j => RunsOn(j, b)), n => n > 0,
            TimeSpan.FromSeconds(30), "silo-b to run members of the batch");
        b.Kill();
        var killedAt = DateTimeOffset.UtcNow;
        var atKill = await a.GetJsonAsync($"/batches/{Batch}");
        Assert.False(atKill.GetProperty("finished").GetBoolean(), $"the batch was still running at the kill: {atKill}");
        var pendingAtKill = atKill.GetProperty("pending").GetInt32();
        Assert.True(pendingAtKill > 0);
        Assert.Equal(404, (int)(await a.Http.GetAsync($"/jobs/{Batch}::complete")).StatusCode);

        var completion = await Poll.UntilAsync(() => a.GetJsonAsync($"/jobs/{Batch}::complete"), j => State(j) == "Succeeded", TimeSpan.FromSeconds(90),
            "the batch's completion job to succeed");
        var jobs = await ProcessCluster.ListQueueAsync(a, "bulk");
        Assert.Equal(1000, jobs.Count);
        Assert.True(jobs.All(j => State(j) == "Succeeded"), $"every member succeeded: {string.Join(", ", jobs.Where(j => State(j) != "Succeeded").Take(5).Select(j => $"{j.GetProperty("id")}={State(j)}"))}");
        Assert.All(jobs, j => Assert.Equal(Batch, j.GetProperty("batchId").GetString()));
        Assert.Equal(Enumerable.Range(0, 1000).Select(n => $"{Batch}::{n}").Order(StringComparer.Ordinal), jobs.Select(j => j.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));

        // Exactly one completion job, one attempt, created and started after the last member finished, with the counts.
        var doneQueue = await ProcessCluster.ListQueueAsync(a, "bulk-done");
        Assert.Equal($"{Batch}::complete", Assert.Single(doneQueue).GetProperty("id").GetString());
        var attempt = Assert.Single(Attempts(completion));
        Assert.Equal("Succeeded", attempt.GetProperty("outcome").GetString());
        var lastMember = jobs.Max(FinishedAt);
        var createdAfter = completion.GetProperty("createdAt").GetDateTimeOffset() - lastMember;
        var startedAfter = attempt.GetProperty("startedAt").GetDateTimeOffset() - lastMember;
        Assert.True(createdAfter >= TimeSpan.Zero, $"the completion job was created after the last member finished ({createdAfter.TotalMilliseconds:0} ms)");
        var result = completion.GetProperty("result");
        Assert.Equal(Batch, result.GetProperty("batchId").GetString());
        Assert.Equal(1000, result.GetProperty("total").GetInt32());
        Assert.Equal(1000, result.GetProperty("succeeded").GetInt32());
        Assert.Equal(0, result.GetProperty("deadLettered").GetInt32());
        Assert.Equal(0, result.GetProperty("cancelled").GetInt32());

        var view = await a.GetJsonAsync($"/batches/{Batch}");
        Assert.True(view.GetProperty("finished").GetBoolean());
        Assert.Equal(0, view.GetProperty("pending").GetInt32());
        Assert.Equal(1000, view.GetProperty("states").GetProperty("Succeeded").GetInt32());
        Assert.Equal(0, view.GetProperty("states").GetProperty("DeadLettered").GetInt32());
        Assert.Equal(0, view.GetProperty("states").GetProperty("Cancelled").GetInt32());

        var interrupted = jobs.Where(j => Attempts(j).Any(x => x.GetProperty("outcome").GetString() == "Interrupted")).ToList();
        Assert.All(interrupted, j => Assert.StartsWith(ProcessCluster.SiloPrefix(b), Attempts(j).First(x => x.GetProperty("outcome").GetString() == "Interrupted").GetProperty("silo").GetString(), StringComparison.Ordinal));
        var recovery = interrupted.Select(j => StartedAt(j) - killedAt).DefaultIfEmpty(TimeSpan.Zero).Max();
        var span = lastMember - jobs.Min(j => Attempts(j)[0].GetProperty("startedAt").GetDateTimeOffset());
        output.WriteLine($"RESULT batch of 1,000 sleep 50–200 ms, 2 silos × 16, kill -9 of silo-b with {onVictim} running on it and {pendingAtKill} pending: all 1,000 Succeeded "
            + $"({interrupted.Count} cut short and re-run, the slowest {recovery.TotalSeconds:0.0} s after the kill); members took {span.TotalSeconds:0.0} s; "
            + $"completion job ran once, created {createdAfter.TotalMilliseconds:0} ms and started {startedAfter.TotalMilliseconds:0} ms after the last member finished, "
            + $"payload {result.GetRawText()}");
    }
}
