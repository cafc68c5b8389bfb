using OrleansWorker.Execution;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using StackExchange.Redis;

namespace OrleansWorker.Tests.Storage;

/// <summary>
/// The job store (one implementation) driven by the rules (one implementation), on each KV engine: a real
/// redis-server and the embedded SQLite engine. Every test ends with the index audit: each job indexed exactly where
/// its state says.
/// </summary>
public abstract class JobStoreContractTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private const string Silo = "127.0.0.1:11111@1/1";
    private const string OtherSilo = "127.0.0.1:11112@1/1";
    private readonly List<string> _ids = [];
    private JobStore? _store;
    private IKvBackend? _kv;

    /// <summary>A backend publishing on <paramref name="channel"/>.</summary>
    internal abstract IKvBackend CreateBackend(string channel);

    internal virtual int Shards => 1;

    /// <summary>A key prefix of this test's own, so tests sharing a redis-server never see each other's keys.</summary>
    protected string Prefix { get; } = "t" + Guid.NewGuid().ToString("N")[..8];

    protected string Channel => $"{{{Prefix}}}:n";

    public Task InitializeAsync()
    {
        _kv = CreateBackend(Channel);
        // The layout a cluster of this version writes (on Redis, once every silo reported that it reads it).
        _store = new JobStore(_kv, Prefix, Shards) { Layout = JobStore.LayoutVersion };
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_store is not null)
        {
            var problems = await StoreAudit.ProblemsAsync(_store, _kv!, _ids);
            await _store.DisposeAsync();
            Assert.True(problems.Count == 0, "index audit: " + string.Join("; ", problems));
        }
    }

    private JobStore Store => _store!;

    private NewJob Job(string id, int priority = 0, string queue = "default", DateTimeOffset? runAt = null, int maxAttempts = 3, string type = "noop", int maxInterruptions = 3)
    {
        _ids.Add(id);
        return new NewJob(id, type, queue, priority, "{\"x\":1}", maxAttempts, TimeSpan.FromSeconds(30), runAt, T0, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        {
            Seq = Seq++,
            MaxInterruptions = maxInterruptions,
        };
    }

    private static long Seq { get; set; } = 1;

    /// <summary>Claims from the shards in turn, as a dispatcher does; order holds within a shard (tests that need it use ids of one shard: "x::…").</summary>
    private async Task<ClaimOutcome> ClaimAsync(string owner = Silo, int max = 10, string[]? queues = null, DateTimeOffset? now = null)
    {
        var all = new List<ClaimedAttempt>();
        for (var s = 0; s < Store.Shards && all.Count < max; s++)
        {
            var outcome = await Store.ClaimAsync(s, owner, max - all.Count, (queues ?? ["default"]).Select(q => (q, max)).ToList(), now ?? T0, (now ?? T0).AddSeconds(30), []);
            if (outcome.Revoked)
            {
                return ClaimOutcome.RevokedOwner;
            }

            all.AddRange(outcome.Attempts);
        }

        return new ClaimOutcome(false, all);
    }

    private async Task<IReadOnlyList<ClaimedAttempt>> ClaimAllShardsAsync(string owner = Silo, int max = 10) => (await ClaimAsync(owner, max)).Attempts;

    [Fact]
    public async Task Insert_ExistingId_ReturnsExistingAndDoesNotDuplicate()
    {
        var first = await Store.InsertAsync([Job("a")]);
        var second = await Store.InsertAsync([Job("a", priority: 5)]);
        Assert.True(first[0]!.Created);
        Assert.False(second[0]!.Created);
        Assert.Equal(JobState.Queued, second[0]!.State);
        Assert.Single((await ClaimAllShardsAsync()));
        Assert.Equal(0, (await Store.GetAsync("a"))!.Priority);
    }

    [Fact]
    public async Task Insert_PastItsNotAfter_IsNotStored()
    {
        var results = await Store.InsertAsync([Job("late") with { NotAfter = DateTimeOffset.UtcNow.AddMinutes(-1) }, Job("in-time") with { NotAfter = DateTimeOffset.UtcNow.AddMinutes(1) }]);
        Assert.Null(results[0]);
        Assert.True(results[1]!.Created);
        Assert.Null(await Store.GetAsync("late"));
        Assert.NotNull(await Store.GetAsync("in-time"));
    }

    [Fact]
    public async Task AJobKeepsOnlyFieldsThatDifferFromTheirDefault_AndOneStoredWithThemAllReadsTheSame()
    {
        await Store.InsertAsync([Job("a"), Job("b")]);

        // What an insert stores no longer (each argument costs Redis time): since, attempt and interruptions; in the
        // compact layout, neither the id (the key has it) nor the definition's eight fields (one field, "def").
        var batch = _kv!.CreateReadBatch();
        var stored = batch.HashGetAll(Store.Keys.Job("a"));
        await batch.ExecuteAsync();
        Assert.Equal("Queued", (await stored)["state"]);
        Assert.Equal(["def", "payload", "state", "tok", "tp"], (await stored).Keys.Order(StringComparer.Ordinal));

        // A job an earlier version stored: every definition field of its own, the id, and since, att and intr.
        var created = T0.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Store.Layout = 1;
        await Store.InsertAsync([Job("c")]);
        Store.Layout = JobStore.LayoutVersion;
        Assert.True((await _kv.ApplyAsync([new KvUnit().HashSet(Store.Keys.Job("b"), "since", created, "att", "0", "intr", "0"),
            new KvUnit().HashSet(Store.Keys.Job("c"), "since", created, "att", "0", "intr", "0")])).All(r => r.IsApplied));
        batch = _kv.CreateReadBatch();
        var legacy = batch.HashGetAll(Store.Keys.Job("c"));
        await batch.ExecuteAsync();
        Assert.Equal(("c", "noop", "default", "3"), ((await legacy)["id"], (await legacy)["type"], (await legacy)["queue"], (await legacy)["maxAtt"]));
        Assert.DoesNotContain("def", (await legacy).Keys);

        var expected = (JobState.Queued, 0, 0, T0, T0, "noop", "default", 3, 3);
        var snapshots = await Store.LoadAsync(["a", "b", "c"]);
        Assert.Equal(["a", "b", "c"], snapshots.Select(s => s!.Id));
        Assert.All(snapshots, s => Assert.Equal(expected, (s!.State, s.Attempt, s.Interruptions, s.Since, s.CreatedAt, s.Type, s.Queue, s.MaxAttempts, s.MaxInterruptions)));
        Assert.Equal(3, snapshots.Select(s => s!.Seq).Distinct().Count());
        var views = await Store.GetManyAsync(["a", "b", "c"]);
        Assert.Equal(["a", "b", "c"], views.Select(v => v!.Id));
        Assert.All(views, v => Assert.Equal(expected, (v!.State, v.Attempt, v.Interruptions, T0, v.CreatedAt, v.Type, v.Queue, v.MaxAttempts, v.MaxInterruptions)));
        Assert.All(views, v => Assert.Equal((TimeSpan.FromSeconds(30), "0af7651916cd43dd8448eb211c80319c"), (v!.Timeout, v.TraceId)));

        var claimed = (await ClaimAllShardsAsync()).OrderBy(c => c.JobId, StringComparer.Ordinal).ToList();
        Assert.Equal(["a", "b", "c"], claimed.Select(c => c.JobId));
        Assert.All(claimed, c => Assert.Equal((1, 0, T0, T0, "noop", 3, 3, TimeSpan.FromSeconds(30)), (c.Attempt, c.Interruptions, c.EnqueuedAt, c.CreatedAt, c.Type, c.MaxAttempts, c.MaxInterruptions, c.Timeout)));
        Assert.Equal(snapshots.Select(s => s!.Seq), claimed.Select(c => c.Seq));
    }

    [Fact]
    public async Task Claim_HigherPriorityFirst_ThenFifo()
    {
        await Store.InsertAsync([Job("p::low1", -1), Job("p::mid1"), Job("p::high", 5), Job("p::mid2"), Job("p::low2", -1)]);
        var order = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            order.AddRange((await ClaimAsync(max: 1)).Attempts.Select(c => c.JobId));
        }

        Assert.Equal(["p::high", "p::mid1", "p::mid2", "p::low1", "p::low2"], order);
    }

    [Fact]
    public async Task Claim_TakesAtMostMax_AndOnlyListedQueues_AndReturnsTheJob()
    {
        await Store.InsertAsync([Job("m::a", queue: "q1"), Job("m::b", queue: "q1"), Job("m::c", queue: "q2")]);
        var claimed = (await ClaimAsync(max: 1, queues: ["q1"])).Attempts;
        var a = Assert.Single(claimed);
        Assert.Equal(("m::a", 1, "{\"x\":1}", "q1", 3, Silo), (a.JobId, a.Attempt, a.Payload, a.Queue, a.MaxAttempts, a.Owner));
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", a.TraceParent);
        var rest = (await ClaimAsync(queues: ["q1"])).Attempts;
        Assert.Equal("m::b", Assert.Single(rest).JobId);
        Assert.Equal(JobState.Queued, (await Store.GetAsync("m::c"))!.State);
        Assert.Equal(JobState.Running, (await Store.GetAsync("m::a"))!.State);
        Assert.Equal("127.0.0.1:11111@1", (await Store.GetAsync("m::a"))!.Silo);
    }

    [Fact]
    public async Task Claim_ReturnsEveryField_ExactlyAsStored_WhateverItsCharacters()
    {
        // Multi-byte UTF-8, the claim record's own separator, digits, an escaped control character and an empty string:
        // what a handler gets is what was submitted, byte for byte.
        var payload = "{\"text\":\"Grüße, 東京 🚀 12:34:\\u001f\",\"empty\":\"\",\"n\":-0.5}";
        await Store.InsertAsync([Job("u::1", queue: "ü-queue:1") with { Payload = payload, BatchId = "b:1" }, Job("u::2") with { Payload = null, TraceParent = null }]);
        var claimed = (await ClaimAsync(queues: ["ü-queue:1", "default"])).Attempts.OrderBy(a => a.JobId, StringComparer.Ordinal).ToList();
        Assert.Equal(2, claimed.Count);
        Assert.Equal(("u::1", "ü-queue:1", payload, "b:1", 1), (claimed[0].JobId, claimed[0].Queue, claimed[0].Payload, claimed[0].BatchId, claimed[0].Attempt));
        Assert.Equal(("u::2", "default", null, null, 3), (claimed[1].JobId, claimed[1].Queue, claimed[1].Payload, claimed[1].TraceParent, claimed[1].MaxAttempts));
        Assert.NotEqual(claimed[0].ClaimToken, claimed[1].ClaimToken);
    }

    [Fact]
    public async Task Success_StoresResultAndAttempt()
    {
        await Store.InsertAsync([Job("a")]);
        var c = (await ClaimAsync()).Attempts[0];
        var (stored, outcome) = await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Succeeded, "{\"ok\":true}"), T0.AddSeconds(1));
        Assert.Equal((ApplyOutcome.Applied, JobState.Succeeded), (outcome, stored.To));
        var job = (await Store.GetAsync("a"))!;
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal("{\"ok\":true}", job.Result);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", job.TraceId);
        var attempt = Assert.Single(job.Attempts);
        Assert.Equal(AttemptOutcome.Succeeded, attempt.Outcome);
        Assert.Equal("127.0.0.1:11111@1", attempt.Silo);
        Assert.Equal((1, c.StartedAt, T0.AddSeconds(1), (JobError?)null), (attempt.Number, attempt.StartedAt, attempt.EndedAt, attempt.Error));
        Assert.Equal(T0.AddSeconds(1), job.FinishedAt);
    }

    [Fact]
    public async Task Success_InLayout4_StoresNoOkField_AndReadsTheSameAttemptAsLayout3()
    {
        // Layout 3 (a cluster with a 0.4.2 silo) stores the successful attempt in `ok`, which 0.4.2 reads it from.
        Store.Layout = 3;
        await Store.InsertAsync([Job("a")]);
        var c3 = (await ClaimAsync(now: T0)).Attempts[0];
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, c3, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddSeconds(1))).Outcome);
        Store.Layout = JobStore.LayoutVersion;
        await Store.InsertAsync([Job("b")]);
        var c4 = (await ClaimAsync(now: T0.AddSeconds(2))).Attempts[0];
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, c4, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddSeconds(3))).Outcome);

        var batch = _kv!.CreateReadBatch();
        var fields3 = batch.HashGetAll(Store.Keys.Job("a"));
        var fields4 = batch.HashGetAll(Store.Keys.Job("b"));
        await batch.ExecuteAsync();
        Assert.Equal($"1|{Ms(T0)}|{Ms(T0.AddSeconds(1))}|127.0.0.1:11111@1", (await fields3)["ok"]);
        Assert.DoesNotContain("ok", (await fields4).Keys);

        // Layout 4 reads the attempt from what the claim and the success wrote: the same attempt as `ok` holds.
        var (a, b) = ((await Store.GetAsync("a"))!, (await Store.GetAsync("b"))!);
        Assert.Equal((1, T0, T0.AddSeconds(1), "127.0.0.1:11111@1", AttemptOutcome.Succeeded),
            (a.Attempts[0].Number, a.Attempts[0].StartedAt, a.Attempts[0].EndedAt, a.Attempts[0].Silo, a.Attempts[0].Outcome));
        Assert.Equal((1, T0.AddSeconds(2), T0.AddSeconds(3), "127.0.0.1:11111@1", AttemptOutcome.Succeeded),
            (b.Attempts[0].Number, b.Attempts[0].StartedAt, b.Attempts[0].EndedAt, b.Attempts[0].Silo, b.Attempts[0].Outcome));
        Assert.Equal((1, 1), (a.Attempts.Count, b.Attempts.Count));

        // A job that has not succeeded shows no successful attempt, whatever its fields.
        await Store.InsertAsync([Job("c")]);
        await ClaimAsync(now: T0.AddSeconds(4));
        Assert.Empty((await Store.GetAsync("c"))!.Attempts);
    }

    [Fact]
    public async Task Success_AfterFailures_ComesLastInTheAttempts_AfterTheFailedOnes()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 3)]);
        var c1 = (await ClaimAsync()).Attempts[0];
        await StoreSteps.EndAsync(Store, c1, new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "it failed")), T0);
        Assert.Equal(1, await StoreSteps.PromoteAsync(Store, T0.AddSeconds(10)));
        var c2 = (await ClaimAsync(now: T0.AddSeconds(10))).Attempts[0];
        Assert.Equal(JobState.Succeeded, (await StoreSteps.EndAsync(Store, c2, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddSeconds(12))).Stored.To);

        var job = (await Store.GetAsync("a"))!;
        Assert.Equal([(1, AttemptOutcome.Failed), (2, AttemptOutcome.Succeeded)], job.Attempts.Select(a => (a.Number, a.Outcome)));
        Assert.Equal("Boom", job.Attempts[0].Error!.Type);
        Assert.Equal((c2.StartedAt, (DateTimeOffset?)T0.AddSeconds(12), "127.0.0.1:11111@1"), (job.Attempts[1].StartedAt, job.Attempts[1].EndedAt, job.Attempts[1].Silo));
    }

    [Fact]
    public async Task Failures_RetryAfterBackoff_ThenDeadLetter()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 2)]);
        var c1 = (await ClaimAsync()).Attempts[0];
        Assert.Equal(JobState.Scheduled, (await StoreSteps.EndAsync(Store, c1, new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "it failed")), T0)).Stored.To);
        var scheduled = (await Store.GetAsync("a"))!;
        Assert.Equal(JobState.Scheduled, scheduled.State);
        Assert.Equal(T0.AddSeconds(10), scheduled.RunAt);

        Assert.Empty((await ClaimAsync()).Attempts);
        Assert.Equal(0, await StoreSteps.PromoteAsync(Store, T0.AddSeconds(9)));
        Assert.Equal(1, await StoreSteps.PromoteAsync(Store, T0.AddSeconds(10)));

        var c2 = (await ClaimAsync(now: T0.AddSeconds(10))).Attempts[0];
        Assert.Equal(2, c2.Attempt);
        Assert.Equal(JobState.DeadLettered, (await StoreSteps.EndAsync(Store, c2, new AttemptEnd(AttemptOutcome.TimedOut, Error: new JobError("Boom", "it failed")), T0.AddSeconds(11))).Stored.To);
        var dead = (await Store.GetAsync("a"))!;
        Assert.Equal(JobState.DeadLettered, dead.State);
        Assert.Equal("Boom", dead.LastError!.Type);
        Assert.Equal(2, dead.Attempts.Count);

        var page = await Store.ListAsync(new JobListQuery { State = JobState.DeadLettered });
        Assert.Equal("a", Assert.Single(page.Items).Id);
    }

    [Fact]
    public async Task PermanentFailure_DeadLettersAtOnce()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 5)]);
        var c = (await ClaimAsync()).Attempts[0];
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("PayloadError", "bad"), Permanent: true), T0);
        var job = (await Store.GetAsync("a"))!;
        Assert.Equal((JobState.DeadLettered, 1), (job.State, job.Attempts.Count));
    }

    [Fact]
    public async Task RateLimited_RunsAgainLater_WithoutUsingAnAttempt()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 1)]);
        var c = (await ClaimAsync()).Attempts[0];
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.RateLimited, Error: new JobError("RateLimited", "429"), RetryAfter: TimeSpan.FromSeconds(40)), T0);
        var job = (await Store.GetAsync("a"))!;
        Assert.Equal((JobState.Scheduled, 0, T0.AddSeconds(40)), (job.State, job.Attempt, job.RunAt));
        Assert.Equal(1, await StoreSteps.PromoteAsync(Store, T0.AddSeconds(40)));
        Assert.Equal(1, (await ClaimAsync()).Attempts[0].Attempt);
    }

    [Fact]
    public async Task AttemptOfRevokedOwner_IsStale_AndTheJobRunsAgain()
    {
        await Store.InsertAsync([Job("a")]);
        var c = (await ClaimAsync()).Attempts[0];
        Assert.Equal(1, await StoreSteps.RecoverAsync(Store, Silo, T0.AddSeconds(1)));
        Assert.Equal(ApplyOutcome.Stale, (await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddSeconds(2))).Outcome);
        var job = (await Store.GetAsync("a"))!;
        Assert.Equal((JobState.Queued, 1, 0), (job.State, job.Interruptions, job.Attempt));
        Assert.Equal(AttemptOutcome.Interrupted, Assert.Single(job.Attempts).Outcome);
        Assert.True((await ClaimAsync(Silo)).Revoked, "a revoked owner claims nothing");
        Assert.Equal(1, (await ClaimAsync(OtherSilo)).Attempts[0].Attempt);
    }

    [Fact]
    public async Task Interruptions_DoNotUseAttempts_ButHaveTheirOwnBudget_SoAPoisonJobDeadLetters()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 1, maxInterruptions: 3)]);
        for (var i = 1; i <= 3; i++)
        {
            var owner = $"127.0.0.1:1111{i}@1/1";
            var c = Assert.Single((await ClaimAsync(owner)).Attempts);
            Assert.Equal(1, c.Attempt);
            await StoreSteps.RecoverAsync(Store, owner, T0.AddSeconds(i));
        }

        var job = (await Store.GetAsync("a"))!;
        Assert.Equal((JobState.DeadLettered, 3, 3), (job.State, job.Interruptions, job.Attempts.Count));
        Assert.Contains("interrupted 3 times", job.LastError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refund_GivesBackAnInterruptionOnce()
    {
        await Store.InsertAsync([Job("a")]);
        var c = (await ClaimAsync()).Attempts[0];
        await StoreSteps.RecoverAsync(Store, Silo, T0.AddSeconds(1));
        Assert.Equal(1, (await Store.GetAsync("a"))!.Interruptions);
        Assert.Equal(1, await Store.RefundInterruptionsAsync([("a", c.ClaimToken)]));
        Assert.Equal(0, await Store.RefundInterruptionsAsync([("a", c.ClaimToken)]));
        Assert.Equal(0, (await Store.GetAsync("a"))!.Interruptions);
    }

    [Fact]
    public async Task Refund_OfAnInterruptionFromBeforeARequeue_TakesNothingOffTheFreshCount()
    {
        // A silo cut off long enough to be revoked gives its interruptions back when it returns; by then an operator may
        // have requeued the job, which starts its count again from 0.
        await Store.InsertAsync([Job("a", maxAttempts: 1)]);
        var cut = (await ClaimAsync()).Attempts[0];
        await StoreSteps.RecoverAsync(Store, Silo, T0.AddSeconds(1));
        var interrupted = (await Store.GetAsync("a"))!;
        Assert.Equal((JobState.Queued, 1), (interrupted.State, interrupted.Interruptions));
        var next = Assert.Single((await ClaimAsync("127.0.0.1:22222@1/1", now: T0.AddSeconds(2))).Attempts);
        await StoreSteps.EndAsync(Store, next, new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "x")), T0.AddSeconds(3));
        Assert.Equal(JobState.DeadLettered, (await Store.GetAsync("a"))!.State);
        var requeued = await StoreSteps.CommandAsync(Store, "a", JobRules.Requeue, T0.AddSeconds(4));
        Assert.Equal((JobState.Queued, 0), (requeued.Job!.State, requeued.Job.Interruptions));

        Assert.Equal(0, await Store.RefundInterruptionsAsync([("a", cut.ClaimToken)]));
        Assert.Equal(0, (await Store.GetAsync("a"))!.Interruptions);
    }

    [Fact]
    public async Task HandedBack_DoesNotUseAnAttempt()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 1)]);
        var c = (await ClaimAsync()).Attempts[0];
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Interrupted), T0.AddSeconds(1));
        var job = (await Store.GetAsync("a"))!;
        Assert.Equal((JobState.Queued, 0, 0), (job.State, job.Attempt, job.Attempts.Count));
        Assert.Equal(1, Assert.Single((await ClaimAsync(OtherSilo)).Attempts).Attempt);
    }

    [Fact]
    public async Task HandedBack_OldClaimIsFencedByItsToken()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 1)]);
        var first = (await ClaimAsync()).Attempts[0];
        await StoreSteps.EndAsync(Store, first, new AttemptEnd(AttemptOutcome.Interrupted), T0);

        // Same silo, same attempt number: only the claim token tells the new claim from the released one.
        var second = Assert.Single((await ClaimAsync()).Attempts);
        Assert.Equal(1, second.Attempt);
        Assert.NotEqual(first.ClaimToken, second.ClaimToken);
        Assert.Equal(ApplyOutcome.Stale, (await StoreSteps.EndAsync(Store, first, new AttemptEnd(AttemptOutcome.Succeeded), T0)).Outcome);
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, second, new AttemptEnd(AttemptOutcome.Succeeded), T0)).Outcome);
    }

    [Fact]
    public async Task ForgettingEndedAttempts_KeepsInTheRunSet_AJobItsOwnerRunsAgain_OrStillRuns()
    {
        // The run set is how recovery finds an owner's running jobs. An attempt's end is forgotten from it lazily, by id,
        // with a later claim or renewal, and the same owner may have claimed the job again by then (after a hand-back,
        // say, when its lease was lost and it came back under the same name); an outcome may also never have landed.
        await Store.InsertAsync([Job("r::a"), Job("r::b")]);
        var shard = Store.Keys.ShardOf("r::a");
        Assert.Equal(shard, Store.Keys.ShardOf("r::b"));
        var first = Assert.Single((await Store.ClaimAsync(shard, Silo, 1, [("default", 1)], T0, T0.AddSeconds(30), [])).Attempts);
        Assert.Equal("r::a", first.JobId);
        await StoreSteps.EndAsync(Store, first, new AttemptEnd(AttemptOutcome.Interrupted), T0);
        var again = Assert.Single((await Store.ClaimAsync(shard, Silo, 1, [("default", 1)], T0, T0.AddSeconds(30), [])).Attempts);
        Assert.Equal(("r::a", JobState.Running), (again.JobId, (await Store.GetAsync("r::a"))!.State));
        var stillRunning = Assert.Single((await Store.ClaimAsync(shard, Silo, 1, [("default", 1)], T0, T0.AddSeconds(30), [])).Attempts);
        Assert.Equal("r::b", stillRunning.JobId);
        Assert.Equal(["r::a", "r::b"], await RunSetAsync(shard, Silo));

        // The first attempt's end, and an end whose outcome did not land, forgotten by a renewal and by a claim: both stay.
        Assert.Empty(await Store.RenewAsync(Silo, T0.AddSeconds(30), new Dictionary<int, List<string>> { [shard] = ["r::a", "r::b"] }));
        Assert.Empty((await Store.ClaimAsync(shard, Silo, 1, [("default", 1)], T0, T0.AddSeconds(30), ["r::a", "r::b"])).Attempts);
        Assert.Equal(["r::a", "r::b"], await RunSetAsync(shard, Silo));
        Assert.Equal(["r::a", "r::b"], (await Store.OwnerJobsAsync(new ShardOwner(shard, Silo))).Select(j => j.Id).Order(StringComparer.Ordinal));

        // Once the attempts ended, each forgetting takes its job out.
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, again, new AttemptEnd(AttemptOutcome.Succeeded), T0)).Outcome);
        Assert.Empty(await Store.RenewAsync(Silo, T0.AddSeconds(30), new Dictionary<int, List<string>> { [shard] = ["r::a"] }));
        Assert.Equal(["r::b"], await RunSetAsync(shard, Silo));
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, stillRunning, new AttemptEnd(AttemptOutcome.Succeeded), T0)).Outcome);
        Assert.Empty((await Store.ClaimAsync(shard, Silo, 1, [("default", 1)], T0, T0.AddSeconds(30), ["r::b"])).Attempts);
        Assert.Empty(await RunSetAsync(shard, Silo));
    }

    private async Task<string[]> RunSetAsync(int shard, string owner)
    {
        var batch = _kv!.CreateReadBatch();
        var members = batch.SetMembers(Store.Keys.Run(shard, owner));
        await batch.ExecuteAsync();
        return [.. (await members).Order(StringComparer.Ordinal)];
    }

    [Fact]
    public async Task Leases_ExpireUnlessRenewed_RevokeIsGuardedByTheLease()
    {
        await Store.InsertAsync([Job("l::a"), Job("l::b")]);
        var shard = Store.Keys.ShardOf("l::a");
        Assert.Single((await ClaimAsync(Silo, max: 1)).Attempts);
        Assert.Single((await ClaimAsync(OtherSilo, max: 1)).Attempts);
        Assert.Empty(await Store.RenewAsync(Silo, T0.AddSeconds(60), new Dictionary<int, List<string>>()));
        Assert.Empty(await Store.ExpiredOwnersAsync(T0.AddSeconds(29)));
        var expired = await Store.ExpiredOwnersAsync(T0.AddSeconds(31));
        Assert.Equal(new ShardOwner(shard, OtherSilo), Assert.Single(expired).Owner);
        Assert.False(await Store.RevokeAsync(new ShardOwner(shard, Silo), T0.AddSeconds(31), leaseEndedBy: T0.AddSeconds(31)), "a renewed lease is not revoked");
        Assert.True(await Store.RevokeAsync(expired[0].Owner, T0.AddSeconds(31), leaseEndedBy: T0.AddSeconds(31)));
        Assert.Equal([shard], await Store.RenewAsync(OtherSilo, T0.AddSeconds(90), new Dictionary<int, List<string>>()));
    }

    [Fact]
    public async Task Cancel_QueuedNeverRuns_RunningIsFlaggedAndWins_FinishedConflicts()
    {
        await Store.InsertAsync([Job("running")]);
        var running = Assert.Single((await ClaimAsync()).Attempts);
        await Store.InsertAsync([Job("queued"), Job("scheduled", runAt: T0.AddMinutes(5)), Job("other")]);
        string? told = null;
        Store.CancelRequested += (owner, id) => told = $"{owner}|{id}";

        var queued = await StoreSteps.CommandAsync(Store, "queued", JobRules.Cancel, T0);
        Assert.Equal((JobCommandStatus.Ok, JobState.Cancelled), (queued.Status, queued.Job!.State));

        var flagged = await StoreSteps.CommandAsync(Store, "running", JobRules.Cancel, T0);
        Assert.Equal((JobCommandStatus.Ok, JobState.Running, true), (flagged.Status, flagged.Job!.State, flagged.Job.CancelRequested));
        Assert.Equal([running.GrainKey], await Store.TakeCancellationsAsync(Silo));
        await Poll.UntilAsync(() => told == $"{Silo}|{running.GrainKey}", TimeSpan.FromSeconds(10), "the owner to be told of the cancellation (of that attempt)");
        Assert.Equal(JobState.Cancelled, (await StoreSteps.EndAsync(Store, running, new AttemptEnd(AttemptOutcome.Succeeded), T0)).Stored.To);
        Assert.Equal(JobState.Cancelled, (await Store.GetAsync("running"))!.State);

        Assert.Equal(JobState.Cancelled, (await StoreSteps.CommandAsync(Store, "scheduled", JobRules.Cancel, T0)).Job!.State);
        Assert.Equal(0, await StoreSteps.PromoteAsync(Store, T0.AddHours(1)));
        Assert.Equal("other", Assert.Single((await ClaimAsync()).Attempts).JobId);

        Assert.Equal(JobCommandStatus.Conflict, (await StoreSteps.CommandAsync(Store, "queued", JobRules.Cancel, T0)).Status);
        Assert.Equal(JobCommandStatus.NotFound, (await StoreSteps.CommandAsync(Store, "missing", JobRules.Cancel, T0)).Status);
    }

    [Fact]
    public async Task Cancel_AfterARecoveryOrHandBackReadTheJob_StillWins()
    {
        // Recovery and hand-back decide from a read of the job; a cancellation flagged after that read does not change the
        // token, so only the transition's cancel guard stops them requeueing a job whose cancellation was acknowledged.
        await Store.InsertAsync([Job("rec"), Job("back")]);
        Assert.Equal(2, (await ClaimAsync()).Attempts.Count);
        var read = (await Store.LoadAsync(["rec", "back"])).Select(j => j!).ToList();
        Assert.All(read, j => Assert.False(j.CancelRequested));
        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, "rec", JobRules.Cancel, T0)).Status);
        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, "back", JobRules.Cancel, T0)).Status);

        var decided = new[] { JobRules.Interrupted(read[0], "silo died", T0.AddSeconds(40)), JobRules.HandedBack(read[1], T0.AddSeconds(40)) };
        Assert.Equal([JobState.Queued, JobState.Queued], decided.Select(t => t.To));
        Assert.Equal([ApplyOutcome.CancelRequested, ApplyOutcome.CancelRequested], await Store.ApplyAsync(decided));
        Assert.Equal([ApplyOutcome.Applied, ApplyOutcome.Applied], await Store.ApplyAsync(decided.Select(JobRules.CancelledWhileRunning).ToList()));
        Assert.Equal([JobState.Cancelled, JobState.Cancelled], (await Store.GetManyAsync(["rec", "back"])).Select(j => j!.State));
        Assert.Empty((await ClaimAsync()).Attempts);
    }

    [Fact]
    public async Task Requeue_DeadLettered_ResetsAttempts_AndDeleteNeedsFinished()
    {
        await Store.InsertAsync([Job("a", maxAttempts: 1)]);
        Assert.Equal(JobCommandStatus.Conflict, (await StoreSteps.CommandAsync(Store, "a", JobRules.Requeue, T0)).Status);
        Assert.Equal(JobCommandStatus.Conflict, (await StoreSteps.CommandAsync(Store, "a", JobRules.Delete, T0)).Status);
        var c = (await ClaimAsync()).Attempts[0];
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "x")), T0);
        Assert.Equal(JobState.DeadLettered, (await Store.GetAsync("a"))!.State);

        // The attempt that ended the job left its owner (a finished job's owner is never read); leaving the finished
        // state clears it, so the queued job names no silo and a later cancellation addresses nobody.
        Assert.NotNull((await Store.LoadAsync(["a"]))[0]!.Owner);
        Assert.Null((await Store.GetAsync("a"))!.Silo);
        var requeued = await StoreSteps.CommandAsync(Store, "a", JobRules.Requeue, T0.AddSeconds(5));
        Assert.Equal((JobState.Queued, 0), (requeued.Job!.State, requeued.Job.Attempt));
        Assert.Null((await Store.LoadAsync(["a"]))[0]!.Owner);
        var again = (await ClaimAsync(now: T0.AddSeconds(5))).Attempts[0];
        Assert.Equal(1, again.Attempt);
        await StoreSteps.EndAsync(Store, again, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddSeconds(6));
        Assert.Equal(2, (await Store.GetAsync("a"))!.Attempts.Count);

        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, "a", JobRules.Delete, T0)).Status);
        Assert.Null(await Store.GetAsync("a"));
        Assert.Equal(JobCommandStatus.NotFound, (await StoreSteps.CommandAsync(Store, "a", JobRules.Delete, T0)).Status);
        _ids.Remove("a");
    }

    [Fact]
    public async Task Progress_IsStoredOnlyByTheAttemptThatHoldsTheJob()
    {
        await Store.InsertAsync([Job("a")]);
        var c = (await ClaimAsync()).Attempts[0];
        Assert.True(await Store.ReportProgressAsync("a", c.ClaimToken, new JobProgress(40, "half-way")));
        Assert.False(await Store.ReportProgressAsync("a", c.ClaimToken + 1, new JobProgress(90, "impostor")));
        Assert.Equal(new JobProgress(40, "half-way"), (await Store.GetAsync("a"))!.Progress);
    }

    [Fact]
    public async Task List_PagesWithoutRepeats_InTheOrderOfEachState()
    {
        var jobs = Enumerable.Range(0, 25).Select(i => Job($"j{i:00}", queue: i % 2 == 0 ? "even" : "odd", type: i % 3 == 0 ? "echo" : "noop") with { CreatedAt = T0.AddSeconds(i) }).ToList();
        await Store.InsertAsync(jobs);

        // Queued: in run order (first in, first out), across queues, filtered by type.
        var queued = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Store.ListAsync(new JobListQuery { State = JobState.Queued, Type = "echo", Limit = 2, Cursor = cursor });
            queued.AddRange(page.Items.Select(j => j.Id));
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(jobs.Where(j => j.Type == "echo").Select(j => j.Id), queued);

        // Running: most recently started first.
        var first = (await ClaimAsync(max: 1, queues: ["even"], now: T0.AddMinutes(1))).Attempts[0];
        var second = (await ClaimAsync(max: 1, queues: ["odd"], now: T0.AddMinutes(2))).Attempts[0];
        var running = await Store.ListAsync(new JobListQuery { State = JobState.Running });
        Assert.Equal([second.JobId, first.JobId], running.Items.Select(j => j.Id));
    }

    private static readonly string[] ClaimOrder = ["run1", "run2", "ok1", "ok2", "dead"];
    private static readonly string[] ListOrder = ["run2", "run1", "queued1", "queued2", "soon", "later", "wait2", "wait1", "cancel", "ok2", "dead", "ok1"];

    [Fact]
    public async Task List_WithoutAState_GoesThroughEachStateInTurn_AcrossPages()
    {
        // Two of each state in queue "a", and one of each in queue "b" that the queue filter must leave out. Ids of one
        // shard ("x::…"), so that claims take them in run order.
        var ids = new List<string>();
        foreach (var queue in new[] { "a", "b" })
        {
            string Id(string name) => $"x::{queue}-{name}";
            await Store.InsertAsync([
                Job(Id("run1"), queue: queue), Job(Id("run2"), queue: queue), Job(Id("ok1"), queue: queue), Job(Id("ok2"), queue: queue),
                Job(Id("dead"), queue: queue, maxAttempts: 1), Job(Id("cancel"), queue: queue), Job(Id("queued1"), queue: queue), Job(Id("queued2"), queue: queue),
                Job(Id("later"), queue: queue, runAt: T0.AddHours(2)), Job(Id("soon"), queue: queue, runAt: T0.AddHours(1))]);
            await Store.InsertAsync([Job(Id("wait1"), queue: queue) with { DependsOn = [Id("queued1")] }]);
            await Store.InsertAsync([Job(Id("wait2"), queue: queue) with { DependsOn = [Id("queued1")], CreatedAt = T0.AddSeconds(1) }]);

            var claimed = new List<ClaimedAttempt>();
            for (var i = 0; i < 5; i++)
            {
                claimed.Add(Assert.Single((await ClaimAsync(max: 1, queues: [queue], now: T0.AddMinutes(i + 1))).Attempts));
            }

            Assert.Equal(ClaimOrder.Select(Id), claimed.Select(c => c.JobId));
            await StoreSteps.EndAsync(Store, claimed[2], new AttemptEnd(AttemptOutcome.Succeeded), T0.AddMinutes(10));
            await StoreSteps.EndAsync(Store, claimed[4], new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "no")), T0.AddMinutes(11));
            await StoreSteps.EndAsync(Store, claimed[3], new AttemptEnd(AttemptOutcome.Succeeded), T0.AddMinutes(12));
            Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, Id("cancel"), JobRules.Cancel, T0.AddMinutes(13))).Status);
            ids.AddRange(ListOrder.Select(Id));
        }

        var expected = ids.Where(id => id.StartsWith("x::a-", StringComparison.Ordinal)).ToList();
        var views = await Store.GetManyAsync(expected);
        Assert.Equal(
            [JobState.Running, JobState.Running, JobState.Queued, JobState.Queued, JobState.Scheduled, JobState.Scheduled, JobState.Waiting, JobState.Waiting,
                JobState.Cancelled, JobState.Succeeded, JobState.DeadLettered, JobState.Succeeded],
            views.Select(v => v!.State));

        // Pages of 5 (so that pages end inside a state and at a state's last job): running (most recently started
        // first), queued (run order), scheduled (soonest due), waiting (newest), then finished (most recently finished).
        foreach (var limit in new[] { 5, 2, 12 })
        {
            var seen = new List<string>();
            string? cursor = null;
            var pages = 0;
            do
            {
                var page = await Store.ListAsync(new JobListQuery { Limit = limit, Cursor = cursor, Queue = "a" });
                Assert.True(page.Items.Count <= limit);
                seen.AddRange(page.Items.Select(j => j.Id));
                cursor = page.NextCursor;
                Assert.True(++pages <= 20, "paging never ended");
            }
            while (cursor is not null);

            Assert.Equal(expected, seen);
        }

        // The filters apply within each part; a cursor this listing did not return is refused.
        var queueB = await Store.ListAsync(new JobListQuery { Queue = "b", Type = "noop", Limit = 100 });
        Assert.Equal(ids.Where(id => id.StartsWith("x::b-", StringComparison.Ordinal)), queueB.Items.Select(j => j.Id));
        Assert.Empty((await Store.ListAsync(new JobListQuery { Type = "other" })).Items);
        await Assert.ThrowsAsync<FormatException>(() => Store.ListAsync(new JobListQuery { Cursor = "9|1~x" }));
        await Assert.ThrowsAsync<FormatException>(() => Store.ListAsync(new JobListQuery { Cursor = "123~x" }));
    }

    [Fact]
    public async Task TheNewestLayout_KeepsNoIndexOfEveryJob_AndARunningJobsTimeIsItsStart()
    {
        // Layout 2 (a cluster with a 0.4.1 silo) indexes every job in `all` and writes `since` at claim, as 0.4.1 reads.
        Store.Layout = 2;
        await Store.InsertAsync([Job("x::old", queue: "l2")]);
        var old = Assert.Single((await ClaimAsync(owner: "s2", max: 1, queues: ["l2"], now: T0.AddMinutes(1))).Attempts);
        Store.Layout = JobStore.LayoutVersion;
        await Store.InsertAsync([Job("x::new", queue: "l3")]);
        var fresh = Assert.Single((await ClaimAsync(max: 1, queues: ["l3"], now: T0.AddMinutes(2))).Attempts);
        Assert.Equal(("x::old", "x::new"), (old.JobId, fresh.JobId));

        var shard = Store.Keys.ShardOf("x::old");
        var batch = _kv!.CreateReadBatch();
        var all = batch.RangeByRank(Store.Keys.All(shard), 0, 100);
        var oldFields = batch.HashGetAll(Store.Keys.Job("x::old"));
        var newFields = batch.HashGetAll(Store.Keys.Job("x::new"));
        await batch.ExecuteAsync();
        Assert.Equal(["x::old"], (await all).Select(e => e.Member));
        Assert.Equal(("Running", Ms(T0.AddMinutes(1))), ((await oldFields)["state"], (await oldFields)["since"]));
        Assert.Equal(("Running", Ms(T0.AddMinutes(2))), ((await newFields)["state"], (await newFields)["started"]));
        Assert.DoesNotContain("since", (await newFields).Keys);

        // Both read as running since their attempt started (orphan grace and an interrupted attempt's start use it).
        var snapshots = await Store.LoadAsync(["x::old", "x::new"]);
        Assert.Equal([T0.AddMinutes(1), T0.AddMinutes(2)], snapshots.Select(s => s!.Since));

        // A job queued again has its `since` from then; running again, its new start is what counts, and the claim
        // still reports when it was queued.
        Assert.Equal(1, await StoreSteps.RecoverAsync(Store, Silo, T0.AddMinutes(3)));
        Assert.Equal((JobState.Queued, T0.AddMinutes(3)), ((await Store.LoadAsync("x::new"))!.State, (await Store.LoadAsync("x::new"))!.Since));
        var again = Assert.Single((await ClaimAsync(owner: "s3", max: 1, queues: ["l3"], now: T0.AddMinutes(4))).Attempts);
        Assert.Equal((T0.AddMinutes(3), T0.AddMinutes(4)), (again.EnqueuedAt, (await Store.LoadAsync("x::new"))!.Since));

        // Retention in layout 3 still removes from `all` the jobs an earlier layout put there.
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, again, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddMinutes(5))).Outcome);
        Assert.Equal(ApplyOutcome.Applied, (await StoreSteps.EndAsync(Store, old, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddMinutes(6))).Outcome);
        var retention = new RetentionPolicy(TimeSpan.FromHours(1), TimeSpan.FromHours(1), TimeSpan.FromDays(7));
        Assert.Equal(2, await Store.PurgeAsync(T0.AddHours(2), retention, 100));
        Assert.All(await Store.LoadAsync(["x::old", "x::new"]), Assert.Null);
        _ids.Remove("x::old");
        _ids.Remove("x::new");
        batch = _kv.CreateReadBatch();
        all = batch.RangeByRank(Store.Keys.All(shard), 0, 100);
        await batch.ExecuteAsync();
        Assert.Empty(await all);
    }

    private static string Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Purge_RemovesFinishedJobsPastRetention_Only()
    {
        await Store.InsertAsync([Job("r::done"), Job("r::waiting")]);
        var c = (await ClaimAsync(max: 1)).Attempts[0];
        Assert.Equal("r::done", c.JobId);
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Succeeded), T0);
        var retention = new RetentionPolicy(TimeSpan.FromHours(1), TimeSpan.FromHours(1), TimeSpan.FromDays(7));
        Assert.Equal(1, (await Store.CountByStateAsync())[JobState.Succeeded]);
        Assert.Equal(0, await Store.PurgeAsync(T0.AddMinutes(59), retention, 100));
        Assert.Equal(1, await Store.PurgeAsync(T0.AddMinutes(61), retention, 100));
        Assert.Null(await Store.GetAsync("r::done"));
        Assert.NotNull(await Store.GetAsync("r::waiting"));
        var counts = await Store.CountByStateAsync();
        Assert.Equal((1, 0), (counts[JobState.Queued], counts[JobState.Succeeded]));
        _ids.Remove("r::done");
    }

    [Fact]
    public async Task Counts_FollowTheStates()
    {
        await Store.InsertAsync([Job("q1"), Job("q2"), Job("s", runAt: T0.AddHours(1))]);
        var c = (await ClaimAsync(max: 1)).Attempts[0];
        var counts = await Store.CountByStateAsync();
        Assert.Equal((1L, 1L, 1L), (counts[JobState.Queued], counts[JobState.Running], counts[JobState.Scheduled]));
        Assert.Equal(1, await Store.CountQueuedAsync());
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Succeeded), T0);
        counts = await Store.CountByStateAsync();
        Assert.Equal((0L, 1L), (counts[JobState.Running], counts[JobState.Succeeded]));
    }

    [Fact]
    public async Task UniqueKey_DedupesWhilePending_AndForItsTimeToLive()
    {
        // Ids of the key's shard (what the validator asks for when the jobs are spread over shards).
        string Id(string name) => $"{JobIds.UniqueTag("report-42")}::{name}";
        var first = Job(Id("1")) with { UniqueKey = "report-42", UniqueFor = TimeSpan.FromMinutes(1) };
        var created = await Store.InsertAsync([first]);
        Assert.True(created[0]!.Created);
        var again = await Store.InsertAsync([Job(Id("2")) with { UniqueKey = "report-42" }]);
        Assert.Equal((Id("1"), false, JobState.Queued), (again[0]!.Id, again[0]!.Created, again[0]!.State));
        Assert.Null(await Store.GetAsync(Id("2")));
        _ids.Remove(Id("2"));

        var c = Assert.Single((await ClaimAsync()).Attempts);
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Succeeded), T0.AddSeconds(1));
        var withinTtl = await Store.InsertAsync([Job(Id("3")) with { UniqueKey = "report-42", CreatedAt = T0.AddSeconds(30) }]);
        Assert.Equal((Id("1"), false), (withinTtl[0]!.Id, withinTtl[0]!.Created));
        _ids.Remove(Id("3"));
        var afterTtl = await Store.InsertAsync([Job(Id("4")) with { UniqueKey = "report-42", CreatedAt = T0.AddMinutes(2) }]);
        Assert.Equal((Id("4"), true), (afterTtl[0]!.Id, afterTtl[0]!.Created));
    }

    [Fact]
    public async Task Requeue_OfAJobWhoseUniqueKeyAnotherJobTook_IsRefused_AndOnceTheKeyIsFree_TakesItBack()
    {
        string Id(string name) => $"{JobIds.UniqueTag("sync-7")}::{name}";
        await Store.InsertAsync([Job(Id("1"), maxAttempts: 1) with { UniqueKey = "sync-7" }]);
        var c = Assert.Single((await ClaimAsync()).Attempts);
        await StoreSteps.EndAsync(Store, c, new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "x")), T0.AddSeconds(1));
        Assert.Equal(JobState.DeadLettered, (await Store.GetAsync(Id("1")))!.State);

        // The key is free once its holder finished (uniqueFor 0): a new job takes it.
        var second = await Store.InsertAsync([Job(Id("2")) with { UniqueKey = "sync-7", CreatedAt = T0.AddSeconds(2) }]);
        Assert.Equal((Id("2"), true), (second[0]!.Id, second[0]!.Created));

        // Requeued now, the first would be a second pending job with the key.
        var (requeue, _) = JobRules.Requeue((await Store.LoadAsync(Id("1")))!, T0.AddSeconds(3));
        Assert.Equal(ApplyOutcome.UniqueKeyTaken, (await Store.ApplyAsync([requeue!]))[0]);
        Assert.Equal(JobState.DeadLettered, (await Store.GetAsync(Id("1")))!.State);

        // Once the second one finished, the first takes its key back: a new submission with it is answered by the first.
        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, Id("2"), JobRules.Cancel, T0.AddSeconds(4))).Status);
        Assert.Equal(JobState.Queued, (await StoreSteps.CommandAsync(Store, Id("1"), JobRules.Requeue, T0.AddSeconds(5))).Job!.State);
        var third = await Store.InsertAsync([Job(Id("3")) with { UniqueKey = "sync-7", CreatedAt = T0.AddSeconds(6) }]);
        Assert.Equal((Id("1"), false), (third[0]!.Id, third[0]!.Created));
        _ids.Remove(Id("3"));
    }

    [Fact]
    public async Task Permits_NeverExceedTheLimit_AcrossHolders_AndGoBack()
    {
        Assert.Equal(3, await Store.AcquirePermitsAsync("lim", Silo, 3, 5));
        Assert.Equal(2, await Store.AcquirePermitsAsync("lim", OtherSilo, 10, 5));
        Assert.Equal(0, await Store.AcquirePermitsAsync("lim", Silo, 1, 5));
        await Store.ReleasePermitsAsync("lim", Silo, 2);
        Assert.Equal(2, await Store.AcquirePermitsAsync("lim", OtherSilo, 10, 5));
        await Store.SetPermitsAsync("lim", OtherSilo, 0);
        Assert.Equal(4, await Store.AcquirePermitsAsync("lim", Silo, 10, 5));
    }

    [Fact]
    public async Task Permits_OfAnOwnerWithoutALease_AreForgotten_EvenWithNoJobsToRecover()
    {
        // Both silos hold leases (a silo renews before it takes permits).
        var none = new Dictionary<int, List<string>>();
        Assert.Empty(await Store.RenewAsync(Silo, T0.AddSeconds(30), none));
        Assert.Empty(await Store.RenewAsync(OtherSilo, T0.AddSeconds(30), none));
        Assert.Equal(4, await Store.AcquirePermitsAsync("lim", OtherSilo, 4, 5));
        Assert.Equal(1, await Store.AcquirePermitsAsync("lim", Silo, 5, 5));
        Assert.Equal(0, await Store.ForgetUnleasedPermitsAsync(["lim"]));
        Assert.Equal(0, await Store.AcquirePermitsAsync("lim", Silo, 5, 5));

        // An idle silo killed between taking a claim's permits and giving them back: revoked with an empty run set, so
        // recovery (which forgets the permits of owners it requeues jobs of) never looks at it.
        for (var s = 0; s < Store.Shards; s++)
        {
            Assert.True(await Store.RevokeAsync(new ShardOwner(s, OtherSilo), T0, leaseEndedBy: null));
        }

        Assert.Empty(await Store.RevokedWithJobsAsync());
        Assert.Equal(1, await Store.ForgetUnleasedPermitsAsync(["lim", "unlimited"]));
        Assert.Equal(4, await Store.AcquirePermitsAsync("lim", Silo, 5, 5));

        // Its release, landing late, counts as nothing rather than as room for others.
        await Store.ReleasePermitsAsync("lim", OtherSilo, 4);
        Assert.Equal(0, await Store.AcquirePermitsAsync("lim", Silo, 5, 5));

        // A name that holds permits and never held a lease (its revocation forgotten a day later, or a silo that died
        // before its first renewal): forgotten too, with the revoked name's late release; the live holder keeps its count.
        await Store.ReleasePermitsAsync("lim", Silo, 2);
        Assert.Equal(2, await Store.AcquirePermitsAsync("lim", "10.0.0.9:11111@1/1", 2, 5));
        Assert.Equal(0, await Store.AcquirePermitsAsync("lim", Silo, 5, 5));
        Assert.Equal(2, await Store.ForgetUnleasedPermitsAsync(["lim"]));
        Assert.Equal(2, await Store.AcquirePermitsAsync("lim", Silo, 5, 5));
    }

    [Fact]
    public async Task Cancel_IsAddressedToTheAttempt_SoALateReadOfIt_CannotCancelTheRetry()
    {
        // Seen in CI: cancel, Cancelled, retry at once; the retry ran on the same silo and the owner's poll of its
        // cancellations, reading the first cancel late, cancelled the new attempt 24 ms after it started.
        await Store.InsertAsync([Job("cx")]);
        var first = Assert.Single((await ClaimAsync()).Attempts);
        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, "cx", JobRules.Cancel, T0)).Status);
        Assert.Equal(JobState.Cancelled, (await StoreSteps.EndAsync(Store, first, new AttemptEnd(AttemptOutcome.Succeeded), T0)).Stored.To);
        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(Store, "cx", JobRules.Requeue, T0)).Status);
        var retry = Assert.Single((await ClaimAsync()).Attempts);
        Assert.Equal(("cx", first.Attempt), (retry.JobId, retry.Attempt));
        Assert.NotEqual(first.GrainKey, retry.GrainKey);

        Assert.Equal([first.GrainKey], await Store.TakeCancellationsAsync(Silo));
        Assert.False((await Store.GetAsync("cx"))!.CancelRequested, "the retry starts without the old cancel flag");
    }

    [Fact]
    public async Task Permits_AHolderBelowZero_CountsAsZero_NotAsRoomForOthers()
    {
        // A release that lands after a revoked owner's permits were forgotten leaves its count below zero.
        await Store.ReleasePermitsAsync("lim", OtherSilo, 3);
        Assert.Equal(5, await Store.AcquirePermitsAsync("lim", Silo, 10, 5));
        Assert.Equal(0, await Store.AcquirePermitsAsync("lim", Silo, 1, 5));
    }

    [Fact]
    public async Task PermitLedger_Upkeep_CountsTheClaimsInProgress_SoTheLimitHoldsAcrossSilos()
    {
        using var ledger = new PermitLedger(Store);
        Assert.Equal(5, await ledger.AcquireAsync("lim", Silo, 5, 5));

        // The upkeep runs while that claim is in the store: none of its attempts is tracked yet.
        await ledger.SetOwnAsync("lim", Silo, () => 0);
        Assert.Equal(0, await Store.AcquirePermitsAsync("lim", OtherSilo, 5, 5));

        // The claim started 3 attempts (now tracked) and gives 2 back; the next upkeep counts the 3.
        await ledger.EndClaimAsync("lim", Silo, granted: 5, used: 3);
        Assert.Equal(0, ledger.InClaims("lim"));
        await ledger.SetOwnAsync("lim", Silo, () => 3);
        Assert.Equal(2, await Store.AcquirePermitsAsync("lim", OtherSilo, 5, 5));
        Assert.Equal(0, await ledger.AcquireAsync("lim", Silo, 1, 5));
        Assert.Equal(0, ledger.InClaims("lim"));
    }

    [Fact]
    public async Task RateWindow_GrantsAtMostTheLimitPerPeriod_AndSaysWhenTheNextStartIsDue()
    {
        var limit = new QueueRateLimit(5, TimeSpan.FromSeconds(1));
        Assert.Equal(3, (await Store.AcquireStartsAsync("rate", "a", 3, limit, T0)).Granted);
        Assert.Equal(2, (await Store.AcquireStartsAsync("rate", "b", 3, limit, T0.AddMilliseconds(500))).Granted);
        var (none, next) = await Store.AcquireStartsAsync("rate", "c", 3, limit, T0.AddMilliseconds(999));
        Assert.Equal(0, none);
        Assert.Equal(T0.AddMilliseconds(1001).ToUnixTimeMilliseconds(), next);
        await Store.RefundStartsAsync("rate", "b", 2, 2);
        Assert.Equal(1, (await Store.AcquireStartsAsync("rate", "d", 3, limit, T0.AddMilliseconds(999))).Granted);
        Assert.Equal(3, (await Store.AcquireStartsAsync("rate", "e", 5, limit, T0.AddMilliseconds(1000))).Granted);
    }

    [Fact]
    public async Task PausedQueue_IsNotClaimed_UntilResumed()
    {
        await Store.InsertAsync([Job("pz-1", queue: "pz")]);
        await Store.SaveQueueSettingsAsync("pz", new QueueSettings { Paused = true });
        Assert.True((await Store.QueueSettingsAsync())["pz"].Paused);
        Assert.Empty((await ClaimAsync(queues: ["pz"])).Attempts);
        await Store.SaveQueueSettingsAsync("pz", new QueueSettings());
        Assert.Equal("pz-1", Assert.Single((await ClaimAsync(queues: ["pz"])).Attempts).JobId);
    }

    [Fact]
    public async Task AQueueSettingsChange_MadeBetweenAnotherWritersReadAndWrite_IsNotLost()
    {
        // A silo ending a timed pause has read the settings; before it writes, an operator sets a limit and pauses the
        // queue again, with no end. The silo's write must not put back what it read: it decides again on theirs.
        await Store.InsertAsync([Job("cas-1", queue: "cas")]);
        await Store.SaveQueueSettingsAsync("cas", new QueueSettings { Paused = true, PausedUntil = T0.AddSeconds(10) });
        var now = T0.AddSeconds(11);
        var seen = new List<QueueSettings>();
        var (stored, changed) = await Store.UpdateQueueSettingsAsync("cas", current =>
        {
            seen.Add(current);
            if (seen.Count == 1)
            {
                // The operator's write, between this writer's read and its write (off this thread: xUnit's context).
                Task.Run(() => Store.SaveQueueSettingsAsync("cas", current with { MaxConcurrency = 3, PausedUntil = null })).GetAwaiter().GetResult();
            }

            return current is { Paused: true, PausedUntil: { } until } && until <= now ? current with { Paused = false, PausedUntil = null } : null;
        });

        Assert.Equal([new QueueSettings { Paused = true, PausedUntil = T0.AddSeconds(10) }, new QueueSettings { Paused = true, MaxConcurrency = 3 }], seen);
        Assert.False(changed);
        Assert.Equal(new QueueSettings { Paused = true, MaxConcurrency = 3 }, stored);
        Assert.Equal(stored, (await Store.QueueSettingsAsync())["cas"]);
        Assert.Empty((await ClaimAsync(queues: ["cas"])).Attempts);

        // Two changes of different fields, the second made on what the first stored: both stay.
        Assert.True((await Store.UpdateQueueSettingsAsync("cas", s => s with { RateLimit = new QueueRateLimit(5, TimeSpan.FromSeconds(1)) })).Changed);
        Assert.Equal(new QueueSettings { Paused = true, MaxConcurrency = 3, RateLimit = new QueueRateLimit(5, TimeSpan.FromSeconds(1)) }, (await Store.QueueSettingsAsync())["cas"]);
    }

    [Fact]
    public async Task APauseThatReachedTheSettingsButNotEveryShard_IsBroughtInLine()
    {
        // A resume whose write to the shards' paused sets failed (or raced a pause from another silo): the settings say
        // running, a shard's set says paused, and the claim (which reads the set) would skip the queue for good.
        await Store.InsertAsync([Job("pr-1", queue: "pr")]);
        await Store.SaveQueueSettingsAsync("pr", new QueueSettings { Paused = true });
        await _kv!.ApplyAsync([new KvUnit().HashSet(Store.Keys.Queues, "pr", "{}")]);
        Assert.False((await Store.QueueSettingsAsync())["pr"].Paused);
        Assert.Empty((await ClaimAsync(queues: ["pr"])).Attempts);

        var paused = await Store.PausedSetsAsync();
        Assert.All(paused, set => Assert.Contains("pr", set));
        Assert.Equal(Store.Shards, await Store.ReconcilePausedAsync(await Store.QueueSettingsAsync(), paused));
        Assert.Equal("pr-1", Assert.Single((await ClaimAsync(queues: ["pr"])).Attempts).JobId);
        Assert.Equal(0, await Store.ReconcilePausedAsync(await Store.QueueSettingsAsync(), await Store.PausedSetsAsync()));

        // And the other way: paused in the settings, missing from the sets.
        await Store.InsertAsync([Job("pr-2", queue: "pr")]);
        await _kv!.ApplyAsync([new KvUnit().HashSet(Store.Keys.Queues, "pr", "{\"paused\":true}")]);
        Assert.Equal(Store.Shards, await Store.ReconcilePausedAsync(await Store.QueueSettingsAsync(), await Store.PausedSetsAsync()));
        Assert.Empty((await ClaimAsync(queues: ["pr"])).Attempts);
    }

    [Fact]
    public async Task AQueueRegistrationTheStoreLost_IsMadeAgain_ByTheNextInsert()
    {
        // A Redis restart can lose the last second: the registration of a queue this process made (and so remembers).
        await Store.InsertAsync([Job("ql-1", queue: "lost")]);
        Assert.Contains("lost", await Store.QueuesAsync());
        await _kv!.ApplyAsync([new KvUnit().HashDelete(Store.Keys.Queues, "lost")]);
        Assert.DoesNotContain("lost", await Store.QueuesAsync());

        await Store.QueueSettingsAsync();
        await Store.InsertAsync([Job("ql-2", queue: "lost")]);
        Assert.Contains("lost", await Store.QueuesAsync());
    }

    [Fact]
    public async Task AClaim_NeverMovesItsOwnersLeaseBack()
    {
        // The claim's clock reading is older than a renewal that landed meanwhile: the later lease end stays.
        await Store.InsertAsync([Job("lb::a")]);
        var shard = Store.Keys.ShardOf("lb::a");
        Assert.Empty(await Store.RenewAsync(Silo, T0.AddSeconds(60), new Dictionary<int, List<string>>()));
        Assert.Single((await Store.ClaimAsync(shard, Silo, 1, [("default", 1)], T0, T0.AddSeconds(30), [])).Attempts);
        Assert.DoesNotContain(await Store.ExpiredOwnersAsync(T0.AddSeconds(45)), e => e.Owner.Owner == Silo);
        Assert.Contains(await Store.ExpiredOwnersAsync(T0.AddSeconds(61)), e => e.Owner == new ShardOwner(shard, Silo));
    }

    /// <summary>
    /// Two stores on two connections race claims against cancellations of the same 2,000 jobs, and submissions of the
    /// same 1,000 ids: with atomic units no job ends up indexed under two states and no id is created twice.
    /// </summary>
    [Fact]
    public async Task TwoConnections_RacingClaimsCancelsAndSubmissions_NothingBreaks()
    {
        await using var otherBackend = CreateSecondConnection(Channel);
        var other = new JobStore(otherBackend, Prefix, Shards);
        var ids = Enumerable.Range(0, 2000).Select(i => $"race-{i}").ToList();
        await Store.InsertAsync(ids.Select(id => Job(id)).ToList());

        var claims = Task.Run(async () =>
        {
            var claimed = 0;
            while (claimed < ids.Count)
            {
                var got = await ClaimAllShardsAsync(Silo, 50);
                if (got.Count == 0)
                {
                    break;
                }

                claimed += got.Count;
            }
        });
        var cancels = Task.Run(async () =>
        {
            foreach (var chunk in ids.AsEnumerable().Reverse().Chunk(50))
            {
                var jobs = await other.LoadAsync(chunk);
                var transitions = jobs.OfType<JobSnapshot>().Select(j => JobRules.Cancel(j, T0).Transition).OfType<JobTransition>().ToList();
                await other.ApplyAsync(transitions);
            }
        });
        await Task.WhenAll(claims, cancels);

        var dup = Enumerable.Range(0, 1000).Select(i => $"dup-{i}").ToList();
        var created = await Task.WhenAll(
            Task.Run(async () => await Store.InsertAsync(dup.Select(id => Job(id)).ToList())),
            Task.Run(async () => await other.InsertAsync(dup.Select(id => Job(id)).ToList())));
        var twice = dup.Where((_, i) => created[0][i]!.Created && created[1][i]!.Created).ToList();
        var never = dup.Where((_, i) => !created[0][i]!.Created && !created[1][i]!.Created).ToList();
        Assert.True(twice.Count == 0 && never.Count == 0, $"each id created exactly once: twice {twice.Count}, never {never.Count}");

        var problems = await StoreAudit.ProblemsAsync(Store, _kv!, ids);
        Assert.True(problems.Count == 0, $"{problems.Count} broken jobs, e.g. {string.Join("; ", problems.Take(5))}");
        var states = (await Store.LoadAsync(ids)).Select(j => j!.State).ToList();
        Assert.True(states.Contains(JobState.Running) || states.Contains(JobState.Cancelled), "the race touched the jobs");
    }

    /// <summary>A second, independent connection to the same data.</summary>
    internal abstract IKvBackend CreateSecondConnection(string channel);
}

/// <summary>One redis-server for the class; every test gets its own key prefix through its own channel.</summary>
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
    internal override IKvBackend CreateBackend(string channel) => new RedisKvBackend(redis.Connection, channel);

    internal override IKvBackend CreateSecondConnection(string channel) => new RedisKvBackend(ConnectionMultiplexer.Connect(redis.Server.ConnectionString), channel);

    [Fact]
    public async Task Insert_IsDurable_AcrossRedisRestart()
    {
        var store = new JobStore(new RedisKvBackend(redis.Connection, Channel), Prefix + "d", 1);
        await store.InsertAsync([new NewJob("durable", "noop", "default", 0, null, 3, TimeSpan.FromSeconds(5), null, DateTimeOffset.UtcNow, null)]);
        await redis.Server.StopProcessAsync();
        await redis.Server.StartProcessAsync();
        var job = await Poll.UntilAsync(() => store.GetAsync("durable"), j => j is not null, TimeSpan.FromSeconds(20), "the job to be readable after redis-server restarted");
        Assert.Equal(JobState.Queued, job!.State);
    }
}

/// <summary>The same contract with the jobs spread over three shards of one redis-server (the Redis Cluster layout).</summary>
public sealed class ShardedRedisJobStoreTests(RedisFixture redis) : JobStoreContractTests, IClassFixture<RedisFixture>
{
    internal override int Shards => 3;

    internal override IKvBackend CreateBackend(string channel) => new RedisKvBackend(redis.Connection, channel);

    internal override IKvBackend CreateSecondConnection(string channel) => new RedisKvBackend(ConnectionMultiplexer.Connect(redis.Server.ConnectionString), channel);
}

public sealed class EmbeddedJobStoreTests : JobStoreContractTests, IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ow-sqlite-" + Guid.NewGuid().ToString("N"));

    internal override IKvBackend CreateBackend(string channel) => new SqliteKvBackend(_directory, EmbeddedDurability.Commit, 1024 * 1024, TimeProvider.System);

    /// <summary>A second backend on the same file, bypassing the process lock, to prove SQLite's own atomicity.</summary>
    internal override IKvBackend CreateSecondConnection(string channel) => new SqliteKvBackend(_directory, EmbeddedDurability.Commit, 1024 * 1024, TimeProvider.System, exclusive: false);

    public void Dispose()
    {
        TempDirectory.Delete(_directory);
    }

    [Fact]
    public void SecondBackendOnTheSameDirectory_IsRefused_NamingTheLock()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => new SqliteKvBackend(_directory, EmbeddedDurability.Commit, 1024 * 1024, TimeProvider.System));
        Assert.Contains(_directory, ex.Message, StringComparison.Ordinal);
        Assert.Contains("in use by another process", ex.Message, StringComparison.Ordinal);
    }
}
