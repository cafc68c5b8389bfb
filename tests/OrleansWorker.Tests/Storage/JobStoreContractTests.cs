using OrleansWorker.Storage;
using OrleansWorker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansWorker.Tests.Storage;

/// <summary>The transitions every store must make the same way; run against memory and a real redis-server.</summary>
public abstract class JobStoreContractTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private const string Silo = "127.0.0.1:11111@1";
    private const string OtherSilo = "127.0.0.1:11112@1";

    internal abstract IJobStore CreateStore();

    private static NewJob Job(string id, int priority = 0, string queue = "default", DateTimeOffset? runAt = null, int maxAttempts = 3, string type = "noop") =>
        new(id, type, queue, priority, "{\"x\":1}", maxAttempts, TimeSpan.FromSeconds(30), runAt, T0, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

    private static AttemptCompletion Done(ClaimedAttempt c, AttemptOutcome outcome, DateTimeOffset? at = null, string? result = null) =>
        new(c.JobId, c.Attempt, c.ClaimToken, c.Owner, outcome, c.StartedAt, at ?? T0.AddSeconds(1), result,
            outcome == AttemptOutcome.Succeeded ? null : new JobError("Boom", "it failed"), (at ?? T0).AddSeconds(10));

    [Fact]
    public async Task Enqueue_ExistingId_ReturnsExistingAndDoesNotDuplicate()
    {
        var store = CreateStore();
        var first = (await store.EnqueueAsync([Job("a")]))!;
        var second = await store.EnqueueAsync([Job("a", priority: 5)]);
        Assert.True(first[0]!.Created);
        Assert.False(second[0]!.Created);
        Assert.Equal(JobState.Queued, second[0]!.State);
        var claimed = await store.ClaimAsync(Silo, 10, [], T0, T0.AddSeconds(30));
        Assert.Single(claimed);
        Assert.Equal(0, (await store.GetAsync("a"))!.Priority);
    }

    [Fact]
    public async Task Enqueue_PastItsNotAfter_IsNotStored()
    {
        var store = CreateStore();
        var results = await store.EnqueueAsync([Job("late") with { NotAfter = DateTimeOffset.UtcNow.AddMinutes(-1) }, Job("in-time") with { NotAfter = DateTimeOffset.UtcNow.AddMinutes(1) }]);
        Assert.Null(results[0]);
        Assert.True(results[1]!.Created);
        Assert.Null(await store.GetAsync("late"));
        Assert.NotNull(await store.GetAsync("in-time"));
    }

    [Fact]
    public async Task Claim_HigherPriorityFirst_ThenFifo()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("low1", -1), Job("mid1"), Job("high", 5), Job("mid2"), Job("low2", -1)]);
        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.AddRange((await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30))).Select(c => c.JobId));
        }

        Assert.Equal(["high", "mid1", "mid2", "low1", "low2"], order);
    }

    [Fact]
    public async Task Claim_TakesAtMostMax_AndOnlyListedQueues()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a", queue: "q1"), Job("b", queue: "q1"), Job("c", queue: "q2")]);
        var claimed = await store.ClaimAsync(Silo, 1, ["q1"], T0, T0.AddSeconds(30));
        Assert.Equal("a", Assert.Single(claimed).JobId);
        Assert.Equal(1, claimed[0].Attempt);
        Assert.Equal("{\"x\":1}", claimed[0].Payload);
        var rest = await store.ClaimAsync(Silo, 10, ["q1"], T0, T0.AddSeconds(30));
        Assert.Equal("b", Assert.Single(rest).JobId);
        Assert.Equal(JobState.Queued, (await store.GetAsync("c"))!.State);
    }

    [Fact]
    public async Task Complete_Success_StoresResultAndAttempt()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a")]);
        var c = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        Assert.Equal(JobState.Running, (await store.GetAsync("a"))!.State);
        var effects = await store.CompleteAsync([Done(c, AttemptOutcome.Succeeded, result: "{\"ok\":true}")]);
        Assert.Equal(CompletionEffect.Succeeded, effects[0]);
        var job = (await store.GetAsync("a"))!;
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal("{\"ok\":true}", job.Result);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", job.TraceId);
        var attempt = Assert.Single(job.Attempts);
        Assert.Equal(AttemptOutcome.Succeeded, attempt.Outcome);
        Assert.Equal(Silo, attempt.Silo);
        Assert.Equal(T0.AddSeconds(1), job.FinishedAt);
    }

    [Fact]
    public async Task Complete_Failures_RetryThenDeadLetter()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a", maxAttempts: 2)]);
        var c1 = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        Assert.Equal(CompletionEffect.Retrying, (await store.CompleteAsync([Done(c1, AttemptOutcome.Failed)]))[0]);
        var scheduled = (await store.GetAsync("a"))!;
        Assert.Equal(JobState.Scheduled, scheduled.State);
        Assert.Equal(T0.AddSeconds(10), scheduled.RunAt);

        Assert.Empty(await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)));
        var (promoted, _) = await store.PromoteDueAsync(T0.AddSeconds(9), 100);
        Assert.Equal(0, promoted);
        (promoted, _) = await store.PromoteDueAsync(T0.AddSeconds(10), 100);
        Assert.Equal(1, promoted);

        var c2 = (await store.ClaimAsync(Silo, 1, [], T0.AddSeconds(10), T0.AddSeconds(40)))[0];
        Assert.Equal(2, c2.Attempt);
        Assert.Equal(CompletionEffect.DeadLettered, (await store.CompleteAsync([Done(c2, AttemptOutcome.TimedOut, T0.AddSeconds(11))]))[0]);
        var dead = (await store.GetAsync("a"))!;
        Assert.Equal(JobState.DeadLettered, dead.State);
        Assert.Equal("Boom", dead.LastError!.Type);
        Assert.Equal(2, dead.Attempts.Count);

        var page = await store.ListAsync(new JobListQuery { State = JobState.DeadLettered });
        Assert.Equal("a", Assert.Single(page.Items).Id);
    }

    [Fact]
    public async Task Complete_StaleAttempt_IsRefused()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a")]);
        var c = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        Assert.Equal(1, await store.RequeueOwnerAsync(Silo, T0.AddSeconds(1), "silo died", countAttempt: true));
        Assert.Equal(CompletionEffect.Stale, (await store.CompleteAsync([Done(c, AttemptOutcome.Succeeded)]))[0]);
        var job = (await store.GetAsync("a"))!;
        Assert.Equal(JobState.Queued, job.State);
        Assert.Equal(AttemptOutcome.Interrupted, Assert.Single(job.Attempts).Outcome);
    }

    [Fact]
    public async Task RequeueOwner_CountsInterruptedAttempts_SoAPoisonJobDeadLetters()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a", maxAttempts: 2)]);
        for (var i = 0; i < 2; i++)
        {
            Assert.Single(await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)));
            await store.RequeueOwnerAsync(Silo, T0.AddSeconds(1), "silo died", countAttempt: true);
        }

        Assert.Equal(JobState.DeadLettered, (await store.GetAsync("a"))!.State);
    }

    [Fact]
    public async Task RequeueOwner_GracefulHandBack_DoesNotUseAnAttempt()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a", maxAttempts: 1)]);
        await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30));
        await store.RequeueOwnerAsync(Silo, T0.AddSeconds(1), "shutdown", countAttempt: false);
        var job = (await store.GetAsync("a"))!;
        Assert.Equal(JobState.Queued, job.State);
        Assert.Equal(0, job.Attempt);
        Assert.Equal(1, Assert.Single(await store.ClaimAsync(OtherSilo, 1, [], T0, T0.AddSeconds(30))).Attempt);
    }

    [Fact]
    public async Task RequeueExpired_OnlyLeasesPastDeadline_AndRenewExtends()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a"), Job("b")]);
        var claimed = await store.ClaimAsync(Silo, 2, [], T0, T0.AddSeconds(30));
        Assert.Equal(2, claimed.Count);
        await store.RenewLeasesAsync(Silo, ["a"], T0.AddSeconds(60));
        Assert.Equal(0, await store.RequeueExpiredAsync(T0.AddSeconds(29)));
        Assert.Equal(1, await store.RequeueExpiredAsync(T0.AddSeconds(31)));
        Assert.Equal(JobState.Running, (await store.GetAsync("a"))!.State);
        Assert.Equal(JobState.Queued, (await store.GetAsync("b"))!.State);
    }

    [Fact]
    public async Task Cancel_QueuedNeverRuns_RunningIsFlagged_FinishedConflicts()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("running")]);
        var running = Assert.Single(await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)));
        await store.EnqueueAsync([Job("queued"), Job("scheduled", runAt: T0.AddMinutes(5)), Job("other")]);

        var queued = await store.CancelAsync("queued", T0);
        Assert.Equal(JobCommandStatus.Ok, queued.Status);
        Assert.Equal(JobState.Cancelled, queued.Job!.State);

        var flagged = await store.CancelAsync("running", T0);
        Assert.Equal(JobCommandStatus.Ok, flagged.Status);
        Assert.Equal(JobState.Running, flagged.Job!.State);
        Assert.True(flagged.Job.CancelRequested);
        Assert.Equal(CompletionEffect.Cancelled, (await store.CompleteAsync([Done(running, AttemptOutcome.Succeeded)]))[0]);
        Assert.Equal(JobState.Cancelled, (await store.GetAsync("running"))!.State);

        Assert.Equal(JobState.Cancelled, (await store.CancelAsync("scheduled", T0)).Job!.State);
        Assert.Equal(0, (await store.PromoteDueAsync(T0.AddHours(1), 10)).Promoted);
        Assert.Equal("other", Assert.Single(await store.ClaimAsync(Silo, 10, [], T0, T0.AddSeconds(30))).JobId);

        Assert.Equal(JobCommandStatus.Conflict, (await store.CancelAsync("queued", T0)).Status);
        Assert.Equal(JobCommandStatus.NotFound, (await store.CancelAsync("missing", T0)).Status);
    }

    [Fact]
    public async Task Requeue_DeadLettered_ResetsAttempts_AndDeleteNeedsFinished()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a", maxAttempts: 1)]);
        Assert.Equal(JobCommandStatus.Conflict, (await store.RequeueAsync("a", T0)).Status);
        Assert.Equal(JobCommandStatus.Conflict, (await store.DeleteAsync("a")).Status);
        var c = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        await store.CompleteAsync([Done(c, AttemptOutcome.Failed)]);
        Assert.Equal(JobState.DeadLettered, (await store.GetAsync("a"))!.State);

        var requeued = await store.RequeueAsync("a", T0.AddSeconds(5));
        Assert.Equal(JobState.Queued, requeued.Job!.State);
        Assert.Equal(0, requeued.Job.Attempt);
        var again = (await store.ClaimAsync(Silo, 1, [], T0.AddSeconds(5), T0.AddSeconds(35)))[0];
        Assert.Equal(1, again.Attempt);
        await store.CompleteAsync([Done(again, AttemptOutcome.Succeeded)]);
        Assert.Equal(2, (await store.GetAsync("a"))!.Attempts.Count);

        Assert.Equal(JobCommandStatus.Ok, (await store.DeleteAsync("a")).Status);
        Assert.Null(await store.GetAsync("a"));
        Assert.Equal(JobCommandStatus.NotFound, (await store.DeleteAsync("a")).Status);
    }

    [Fact]
    public async Task List_PagesNewestFirst_WithFilters_AndNoItemTwice()
    {
        var store = CreateStore();
        var jobs = Enumerable.Range(0, 25).Select(i => Job($"j{i:00}", queue: i % 2 == 0 ? "even" : "odd", type: i % 3 == 0 ? "echo" : "noop")).ToList();
        await store.EnqueueAsync(jobs);
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await store.ListAsync(new JobListQuery { Limit = 4, Cursor = cursor, Queue = "even" });
            Assert.True(page.Items.Count <= 4);
            seen.AddRange(page.Items.Select(j => j.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        var expected = jobs.Where(j => j.Queue == "even").Select(j => j.Id).OrderByDescending(id => id, StringComparer.Ordinal).ToList();
        Assert.Equal(expected, seen);

        var echoes = await store.ListAsync(new JobListQuery { Type = "echo", State = JobState.Queued, Limit = 100 });
        Assert.Equal(9, echoes.Items.Count);
        Assert.All(echoes.Items, j => Assert.Equal("echo", j.Type));
    }

    [Fact]
    public async Task Purge_RemovesFinishedJobsPastRetention_Only()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("done"), Job("waiting")]);
        var c = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        await store.CompleteAsync([Done(c, AttemptOutcome.Succeeded, T0)]);
        var retention = new RetentionPolicy(TimeSpan.FromHours(1), TimeSpan.FromHours(1), TimeSpan.FromDays(7));
        Assert.Equal(0, await store.PurgeAsync(T0.AddMinutes(59), retention, 100));
        Assert.Equal(1, await store.PurgeAsync(T0.AddMinutes(61), retention, 100));
        Assert.Null(await store.GetAsync("done"));
        Assert.NotNull(await store.GetAsync("waiting"));
        Assert.Equal(1, (await store.CountByStateAsync())[JobState.Queued]);
        Assert.Equal(0, (await store.CountByStateAsync())[JobState.Succeeded]);
    }

    [Fact]
    public async Task Transfer_MovesOwnership_FencedByAttempt()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a")]);
        var c = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        Assert.False(await store.TransferAsync("a", 2, Silo, OtherSilo));
        Assert.True(await store.TransferAsync("a", 1, Silo, OtherSilo));
        Assert.Equal(0, await store.RequeueOwnerAsync(Silo, T0, "gone", true));
        Assert.Equal(CompletionEffect.Succeeded, (await store.CompleteAsync([Done(c with { Owner = OtherSilo }, AttemptOutcome.Succeeded)]))[0]);
    }

    [Fact]
    public async Task Interrupted_Completion_ReleasesWithoutUsingAttempt_AndTheOldClaimIsFenced()
    {
        var store = CreateStore();
        await store.EnqueueAsync([Job("a", maxAttempts: 1)]);
        var first = (await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)))[0];
        Assert.Equal(CompletionEffect.Released, (await store.CompleteAsync([Done(first, AttemptOutcome.Interrupted)]))[0]);
        Assert.Empty((await store.GetAsync("a"))!.Attempts);

        // Same silo, same attempt number: only the claim token tells the new claim from the released one.
        var second = Assert.Single(await store.ClaimAsync(Silo, 1, [], T0, T0.AddSeconds(30)));
        Assert.Equal(1, second.Attempt);
        Assert.NotEqual(first.ClaimToken, second.ClaimToken);
        Assert.Equal(CompletionEffect.Stale, (await store.CompleteAsync([Done(first, AttemptOutcome.Succeeded)]))[0]);
        Assert.Equal(CompletionEffect.Succeeded, (await store.CompleteAsync([Done(second, AttemptOutcome.Succeeded)]))[0]);
    }
}

public sealed class InMemoryJobStoreTests : JobStoreContractTests
{
    internal override IJobStore CreateStore() => new InMemoryJobStore();
}

/// <summary>One redis-server for the class; every test gets its own key prefix.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public ConnectionMultiplexer Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await RedisServer.StartAsync();
        Connection = await ConnectionMultiplexer.ConnectAsync(Server.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await Connection.DisposeAsync();
        await Server.DisposeAsync();
    }
}

public sealed class RedisJobStoreTests(RedisFixture redis) : JobStoreContractTests, IClassFixture<RedisFixture>
{
    internal override IJobStore CreateStore() => new RedisJobStore(redis.Connection, "t" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task Enqueue_IsDurable_AcrossRedisRestart()
    {
        var store = CreateStore();
        await store.EnqueueAsync([new NewJob("durable", "noop", "default", 0, null, 3, TimeSpan.FromSeconds(5), null, DateTimeOffset.UtcNow, null)]);
        await redis.Server.StopProcessAsync();
        await redis.Server.StartProcessAsync();
        var job = await Poll.UntilAsync(() => store.GetAsync("durable"), j => j is not null, TimeSpan.FromSeconds(20), "the job to be readable after redis-server restarted");
        Assert.Equal(JobState.Queued, job!.State);
    }
}
