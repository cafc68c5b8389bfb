using Microsoft.Extensions.DependencyInjection;
using OrleansWorker.Client;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>The engine end to end on an in-process cluster: grains, dispatch, retries, cancel, concurrency.</summary>
public sealed class EngineTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    [Fact]
    public async Task Echo_Succeeds_WithPayloadAsResult()
    {
        var id = NewId("echo");
        var result = await fixture.Jobs.EnqueueAsync(new JobRequest("echo", "{\"hello\":\"world\"}") { Id = id });
        Assert.True(result.Created);
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal("{\"hello\":\"world\"}", job.Result);
        Assert.Equal(1, job.Attempt);
    }

    [Fact]
    public async Task EveryAttempt_RunsOnTheSiloThatClaimedIt()
    {
        // Each 20 ms long: one silo's 4 slots fill up, so both silos claim some (the precondition below).
        var ids = Enumerable.Range(0, 60).Select(_ => NewId("where")).ToList();
        await fixture.Jobs.EnqueueManyAsync(ids.Select(id => new JobRequest("where") { Id = id }).ToList());
        var jobs = new List<JobView>();
        foreach (var id in ids)
        {
            jobs.Add(await fixture.WaitFinishedAsync(id));
        }

        Assert.All(jobs, j => Assert.Equal(JobState.Succeeded, j.State));
        var claimers = jobs.Select(j => Assert.Single(j.Attempts).Silo).Distinct().ToList();
        Assert.True(claimers.Count == 2, $"both silos claimed some of the jobs: {string.Join(", ", claimers)}");

        // The attempt grain ran where its attempt was claimed: placed on the calling silo, never on the other one.
        Assert.All(jobs, j => Assert.Equal(System.Text.Json.JsonSerializer.Serialize(j.Attempts[0].Silo), j.Result));
    }

    [Fact]
    public async Task ARawHandlersResultThatIsNotJson_FailsTheAttemptForGood_InsteadOfBeingStored()
    {
        // Stored, such a result would fail every reader of the job (the API writes it back as JSON).
        var id = NewId("not-json");
        await fixture.Jobs.EnqueueAsync(new JobRequest("not-json") { Id = id, MaxAttempts = 3 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal((JobState.DeadLettered, 1), (job.State, job.Attempt));
        Assert.Null(job.Result);
        Assert.Equal("ResultNotJson", job.LastError!.Type);
    }

    [Fact]
    public async Task SubmitSameId_ReturnsExisting_AndRunsOnce()
    {
        var id = NewId("dup");
        await fixture.Jobs.EnqueueAsync(new JobRequest("noop") { Id = id });
        var second = await fixture.Jobs.EnqueueAsync(new JobRequest("noop") { Id = id });
        Assert.False(second.Created);
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Single(job.Attempts);
    }

    [Fact]
    public async Task Fail_RetriesWithBackoff_ThenSucceeds()
    {
        var id = NewId("flaky");
        await fixture.Jobs.EnqueueAsync(new JobRequest("fail", "{\"times\":2}") { Id = id, MaxAttempts = 5 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(3, job.Attempts.Count);
        Assert.Equal([AttemptOutcome.Failed, AttemptOutcome.Failed, AttemptOutcome.Succeeded], job.Attempts.Select(a => a.Outcome));
        Assert.True(job.Attempts[1].StartedAt - job.Attempts[0].EndedAt!.Value >= TimeSpan.FromMilliseconds(20), "the second attempt waited for the backoff");
    }

    [Fact]
    public async Task AlwaysFailing_IsDeadLettered_WithLastError_AndCanBeRequeued()
    {
        var id = NewId("poison");
        await fixture.Jobs.EnqueueAsync(new JobRequest("fail", "{\"times\":-1}") { Id = id, MaxAttempts = 2 });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.DeadLettered, job.State);
        Assert.Equal(2, job.Attempts.Count);
        Assert.Contains("fails as asked", job.LastError!.Message, StringComparison.Ordinal);
        var dlq = await fixture.Jobs.ListAsync(new JobListQuery { State = JobState.DeadLettered, Type = "fail", Limit = 1000 });
        Assert.Contains(dlq.Items, j => j.Id == id);

        var retried = await fixture.Jobs.RetryAsync(id);
        Assert.Equal(JobCommandStatus.Ok, retried.Status);
        var again = await Poll.UntilAsync(() => fixture.Jobs.GetAsync(id), j => j is { State: JobState.DeadLettered, Attempts.Count: 4 }, TimeSpan.FromSeconds(20), "the requeued job to be dead-lettered again after two more attempts");
        Assert.Equal(2, again!.Attempt);
    }

    [Fact]
    public async Task Timeout_CountsAsFailedAttempt()
    {
        var id = NewId("slow");
        await fixture.Jobs.EnqueueAsync(new JobRequest("sleep", "{\"ms\":5000}") { Id = id, MaxAttempts = 1, Timeout = TimeSpan.FromMilliseconds(100) });
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.DeadLettered, job.State);
        Assert.Equal(AttemptOutcome.TimedOut, Assert.Single(job.Attempts).Outcome);
    }

    [Fact]
    public async Task Cancel_RunningJob_FiresToken_AndEndsCancelled()
    {
        var id = NewId("cancel");
        await fixture.Jobs.EnqueueAsync(new JobRequest("sleep", "{\"ms\":60000}") { Id = id });
        await Poll.UntilAsync(() => fixture.Jobs.GetAsync(id), j => j?.State == JobState.Running, TimeSpan.FromSeconds(10), "the sleep job to start");
        var result = await fixture.Jobs.CancelAsync(id);
        Assert.Equal(JobCommandStatus.Ok, result.Status);
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal(JobState.Cancelled, job.State);
        Assert.Equal(AttemptOutcome.Cancelled, Assert.Single(job.Attempts).Outcome);
        Assert.Equal(JobCommandStatus.Conflict, (await fixture.Jobs.CancelAsync(id)).Status);
    }

    [Fact]
    public async Task Cancel_ScheduledJob_NeverRuns()
    {
        var id = NewId("later");
        await fixture.Jobs.EnqueueAsync(new JobRequest("noop") { Id = id, Delay = TimeSpan.FromMilliseconds(500) });
        Assert.Equal(JobState.Scheduled, (await fixture.Jobs.GetAsync(id))!.State);
        Assert.Equal(JobCommandStatus.Ok, (await fixture.Jobs.CancelAsync(id)).Status);
        // A marker job submitted after the due time has run, so the dispatcher has had its chance at the cancelled one.
        var marker = NewId("marker");
        await Poll.UntilAsync(() => DateTimeOffset.UtcNow > (fixture.Jobs.GetAsync(id).Result!.CreatedAt + TimeSpan.FromMilliseconds(700)), TimeSpan.FromSeconds(5), "the cancelled job's due time to pass");
        await fixture.Jobs.EnqueueAsync(new JobRequest("noop") { Id = marker });
        await fixture.WaitFinishedAsync(marker);
        var job = (await fixture.Jobs.GetAsync(id))!;
        Assert.Equal(JobState.Cancelled, job.State);
        Assert.Empty(job.Attempts);
    }

    [Fact]
    public async Task Wait_ReturnsOnceFinished()
    {
        var id = NewId("wait");
        await fixture.Jobs.EnqueueAsync(new JobRequest("sleep", "{\"ms\":200}") { Id = id });
        var job = await fixture.Jobs.WaitAsync(id, TimeSpan.FromSeconds(30));
        Assert.Equal(JobState.Succeeded, job!.State);
    }

    [Fact]
    public async Task Concurrency_NeverExceedsMaxConcurrentJobs_PerSilo()
    {
        var ids = Enumerable.Range(0, 12).Select(_ => NewId("conc")).ToList();
        await fixture.Jobs.EnqueueManyAsync(ids.Select(id => new JobRequest("sleep", "{\"ms\":150}") { Id = id, Queue = "concurrency" }).ToList());
        var jobs = new List<JobView>();
        await Poll.UntilAsync(async () =>
        {
            jobs = [];
            foreach (var id in ids)
            {
                jobs.Add((await fixture.Jobs.GetAsync(id))!);
            }

            return jobs.All(j => j.State == JobState.Succeeded);
        }, TimeSpan.FromSeconds(30), "all 12 sleep jobs to succeed");

        // A slot is a running handler: from the claim (the attempt's start) until the handler returned (its end, taken
        // before the slot is given back). Per silo, those intervals never overlap deeper than its slots.
        var depths = jobs.SelectMany(j => j.Attempts)
            .GroupBy(a => a.Silo)
            .ToDictionary(g => g.Key ?? "?", g => Intervals.MaxOverlap(g.Select(a => (a.StartedAt, a.EndedAt!.Value))));
        Assert.All(depths, d => Assert.True(d.Value <= ClusterFixture.MaxConcurrentJobs, $"silo {d.Key} ran {d.Value} handlers at once; its slots are {ClusterFixture.MaxConcurrentJobs}"));
        Assert.True(depths.Values.Max() >= 2, $"the jobs ran side by side at all (deepest overlap {depths.Values.Max()})");
    }

    [Fact]
    public async Task InvalidBatch_IsRefusedAsAWhole()
    {
        var good = NewId("good");
        var ex = await Assert.ThrowsAsync<JobValidationException>(() => fixture.Jobs.EnqueueManyAsync([new JobRequest("noop") { Id = good }, new JobRequest("no-such-type")]));
        Assert.Equal(1, Assert.Single(ex.Errors).Index);
        Assert.Null(await fixture.Jobs.GetAsync(good));
    }

    [Fact]
    public async Task FinishedJob_GrainActivation_GoesAway()
    {
        var id = NewId("idle");
        await fixture.Jobs.EnqueueAsync(new JobRequest("noop") { Id = id });
        await fixture.WaitFinishedAsync(id);
        var management = fixture.Cluster.Client.GetGrain<IManagementGrain>(0);
        await Poll.UntilAsync(async () =>
        {
            var stats = await management.GetSimpleGrainStatistics();
            return stats.Where(s => s.GrainType.Contains("JobGrain", StringComparison.Ordinal)).Sum(s => s.ActivationCount) == 0;
        }, TimeSpan.FromSeconds(20), "job grain activations to deactivate after their attempts");
    }

    [Fact]
    public async Task ClaimWhoseAnswerWasLost_IsHandedBackByItsOwner_AndRuns()
    {
        // What a claim whose answer never reached its silo leaves behind: the job Running under the silo's owner name
        // (renewed with its lease, so nobody else recovers it) while nothing runs it. Written straight into the store.
        var engine = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<OrleansWorker.Execution.JobEngine>();
        var store = engine.Store;
        var id = NewId("lost-claim");
        var shard = store.Keys.ShardOf(id);
        var key = store.Keys.Job(id);
        var past = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        await store.Backend.ApplyAsync([new OrleansWorker.Storage.Kv.KvUnit()
            .KeyAbsent(key, "state")
            .HashSet(key, "id", id, "type", "noop", "queue", "lost-claims", "pri", "0", "seq", "1", "maxAtt", "3", "maxIntr", "3", "tmo", "30000",
                "created", past, "state", "Running", "since", past, "att", "1", "intr", "0", "tok", "4242", "owner", engine.Owner, "started", past)
            .SetAdd(store.Keys.Run(shard, engine.Owner), id)
            .SortedSetAdd(store.Keys.All(shard), double.Parse(past, System.Globalization.CultureInfo.InvariantCulture), id)]);
        Assert.Equal(JobState.Running, (await fixture.Jobs.GetAsync(id))!.State);

        var job = await Poll.UntilAsync(() => fixture.Jobs.GetAsync(id), j => j?.State == JobState.Succeeded, TimeSpan.FromSeconds(60), "the orphaned claim to be handed back and run");
        Assert.Equal((1, AttemptOutcome.Succeeded), (job!.Attempt, Assert.Single(job.Attempts).Outcome));
    }
    [Fact]
    public async Task NewJobs_AreStoredInTheNewestLayout_OnceEverySiloReportedThatItReadsIt()
    {
        var stores = fixture.Cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<OrleansWorker.Execution.JobEngine>().Store).ToList();
        Assert.Equal(2, stores.Count);
        Assert.False(stores[0].Description.Exclusive, "the silos share the store, so each must learn what the other reads");
        await Poll.UntilAsync(() => stores.All(s => s.Layout == OrleansWorker.Storage.JobStore.LayoutVersion), TimeSpan.FromSeconds(20), "both silos to store new jobs in the newest layout");
        var reports = await stores[0].SilosAsync(DateTimeOffset.UtcNow.AddMinutes(-1));
        Assert.Equal(
            fixture.Cluster.Silos.Select(s => s.SiloAddress.ToParsableString()).Order(StringComparer.Ordinal),
            reports.Where(r => r.StoreLayout == OrleansWorker.Storage.JobStore.LayoutVersion).Select(r => r.Address).Order(StringComparer.Ordinal));

        var id = NewId("layout");
        await fixture.Jobs.EnqueueAsync(new JobRequest("echo", "{\"a\":1}") { Id = id });
        var batch = stores[0].Backend.CreateReadBatch();
        var stored = batch.HashGetAll(stores[0].Keys.Job(id));
        var indexed = batch.Score(stores[0].Keys.All(stores[0].Keys.ShardOf(id)), id);
        await batch.ExecuteAsync();
        Assert.Contains("def", (await stored).Keys);
        Assert.Empty((await stored).Keys.Intersect(["id", "type", "queue", "seq", "created"]));
        Assert.Null(await indexed);
        var job = await fixture.WaitFinishedAsync(id);
        Assert.Equal((JobState.Succeeded, "echo", "{\"a\":1}"), (job.State, job.Type, job.Result));
    }
}

/// <summary>A raw handler that returns text that is not JSON (a bare word, or an escaped lone surrogate).</summary>
public sealed class NotJsonHandler : IJobHandler
{
    public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken) => Task.FromResult<string?>("done");
}
