using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Execution;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Storage;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// Recurring jobs, continuations and batches in the engine's core on a real embedded store, the clock a
/// <c>FakeTimeProvider</c>: ticks, daylight saving, misfires, overlap, two silos racing, dependents and batch completion.
/// </summary>
public abstract class SchedulingEngineTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private EngineHarness _silo = null!;

    /// <summary>A new backend (a store of its own) on the given clock.</summary>
    internal abstract IKvBackend CreateBackend(FakeTimeProvider time);

    /// <summary>Whether the store keeps its own clock (redis-server) rather than the harness' fake one (the embedded engine).</summary>
    protected abstract bool StoreHasItsOwnClock { get; }

    public Task InitializeAsync()
    {
        _silo = EngineHarness.Create(CreateBackend, Start);
        return Task.CompletedTask;
    }

    public virtual async Task DisposeAsync() => await _silo.DisposeAsync();

    protected static ScheduleDefinition Every(string id, string cron, string timeZone = "UTC", MisfirePolicy misfire = MisfirePolicy.FireOnce, OverlapPolicy overlap = OverlapPolicy.Allow) =>
        new() { Id = id, Cron = cron, TimeZone = timeZone, Job = new JobRequest("noop", "{\"n\":1}") { Queue = "cron" }, Misfire = misfire, Overlap = overlap };

    private async Task<List<string>> JobsOfAsync(string schedule)
    {
        var page = await _silo.Store.ListAsync(new JobListQuery { Limit = 1000 });
        return page.Items.Where(j => j.ScheduleId == schedule).Select(j => j.Id).Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public async Task TheGapBetweenThisSilosClockAndTheStores_IsMeasured_Published_AndTakenOffTheEnginesTime()
    {
        // The harness' clock is a fake one at 2026-06-01: the embedded engine reads the same clock (no gap), redis-server
        // its own (this machine's), so the silo is behind it by the time since then.
        Assert.Equal(0, _silo.Engine.Instruments.ClockSkewSeconds);
        Assert.Equal(_silo.Time.GetUtcNow(), _silo.Engine.Time.GetUtcNow()); // not measured yet: the silo's own time
        Assert.Null(_silo.Engine.EarliestStoreTime); // what it tells clients: nothing yet
        var (skew, uncertainty, decided) = await _silo.Engine.MeasureClockSkewAsync();
        Assert.True(decided);
        Assert.True(_silo.Engine.EarliestStoreTime <= _silo.Engine.Time.GetUtcNow(), "the earliest the store's clock can read is no later than the engine's time");
        var expected = StoreHasItsOwnClock ? Start - DateTimeOffset.UtcNow : TimeSpan.Zero;
        Assert.True((skew - expected).Duration() < TimeSpan.FromSeconds(5), $"measured {skew}, expected about {expected}");
        Assert.Equal(TimeSpan.Zero, uncertainty); // the fake clock stands still during the reading
        Assert.Equal(skew.TotalSeconds, _silo.Engine.Instruments.ClockSkewSeconds);

        // From now on the engine goes by the store's time: what it writes and compares with other silos' timestamps.
        Assert.Equal(skew, _silo.Engine.ClockOffset);
        var storeNow = StoreHasItsOwnClock ? DateTimeOffset.UtcNow : _silo.Time.GetUtcNow();
        Assert.True((_silo.Engine.Time.GetUtcNow() - storeNow).Duration() < TimeSpan.FromSeconds(5), $"engine {_silo.Engine.Time.GetUtcNow()}, store about {storeNow}");

        // The silo's clock jumps 90 s ahead: the gap follows it, unless the store reads the same clock.
        _silo.Time.Advance(TimeSpan.FromSeconds(90));
        var (later, _, _) = await _silo.Engine.MeasureClockSkewAsync();
        var moved = later - skew;
        var expectedMove = StoreHasItsOwnClock ? TimeSpan.FromSeconds(90) : TimeSpan.Zero;
        Assert.True((moved - expectedMove).Duration() < TimeSpan.FromSeconds(5), $"the gap moved by {moved}, expected about {expectedMove}");
    }

    [Fact]
    public async Task AQueueListedTwice_IsOneQueueWithTheWeightsAdded()
    {
        // As Sidekiq's -q critical -q critical, or two configuration sources naming a queue: a claim took a limited
        // queue's permits once per entry and gave back only one entry's, until the queue stalled.
        await using var silo = _silo.Twin(configure: o =>
        {
            o.Queues.Add("default");
            o.Queues.Add("mail=2");
            o.Queues.Add("default=3");
        });
        Assert.Equal([new WeightedQueue("default", 4), new WeightedQueue("mail", 2)], silo.Engine.WeightedQueues);
    }

    [Fact]
    public async Task EverySecond_OneJobPerTick_EvenWithTwoSilosFiringAtOnce()
    {
        await using var other = _silo.Twin();
        var put = await _silo.Schedules.PutAsync(Every("tick", "*/1 * * * * *"));
        Assert.Equal(JobCommandStatus.Ok, put.Status);
        Assert.Equal(Start.AddSeconds(1), put.Schedule!.NextFire);
        Assert.Empty(await JobsOfAsync("tick"));

        for (var i = 1; i <= 10; i++)
        {
            _silo.Time.Advance(TimeSpan.FromSeconds(1));
            await Task.WhenAll(_silo.Schedules.FireDueAsync(), other.Schedules.FireDueAsync(), _silo.Schedules.FireDueAsync());
        }

        var expected = Enumerable.Range(1, 10).Select(i => ScheduleRules.JobId("tick", Start.AddSeconds(i))).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, await JobsOfAsync("tick"));
        var view = await _silo.Schedules.GetAsync("tick");
        Assert.Equal(Start.AddSeconds(10), view!.LastFire);
        Assert.Equal(ScheduleRules.JobId("tick", Start.AddSeconds(10)), view.LastJobId);
        Assert.Equal(JobState.Queued, view.LastJobState);
        Assert.Equal(Start.AddSeconds(11), view.NextFire);
        Assert.Equal("tick", (await _silo.Store.GetAsync(expected[0]))!.ScheduleId);
    }

    [Fact]
    public async Task LateByLessThanTheThreshold_EveryMissedTickStillFires()
    {
        await _silo.Schedules.PutAsync(Every("catchup", "*/1 * * * * *"));
        _silo.Time.Advance(TimeSpan.FromSeconds(5)); // a silo busy for 5 s: within the 1 min misfire threshold
        await _silo.Schedules.FireDueAsync();
        Assert.Equal(Enumerable.Range(1, 5).Select(i => ScheduleRules.JobId("catchup", Start.AddSeconds(i))).ToList(), await JobsOfAsync("catchup"));
    }

    [Fact]
    public async Task SpringForward_ATickInTheSkippedHourRunsOnceAtTheJump()
    {
        // America/New_York, 2026-03-08: 02:00 EST → 03:00 EDT. 02:30 does not exist that day.
        await using var dst = EngineHarness.Create(CreateBackend, new DateTimeOffset(2026, 3, 7, 12, 0, 0, TimeSpan.Zero));
        var put = await dst.Schedules.PutAsync(Every("nightly", "0 30 2 * * *", "America/New_York"));
        Assert.Equal(new DateTimeOffset(2026, 3, 8, 7, 0, 0, TimeSpan.Zero), put.Schedule!.NextFire); // 03:00 EDT

        dst.Time.SetUtcNow(new DateTimeOffset(2026, 3, 8, 7, 0, 0, TimeSpan.Zero));
        await dst.Schedules.FireDueAsync();
        var view = await dst.Schedules.GetAsync("nightly");
        Assert.Equal("nightly::20260308T070000Z", view!.LastJobId);
        Assert.Equal(new DateTimeOffset(2026, 3, 9, 6, 30, 0, TimeSpan.Zero), view.NextFire); // 02:30 EDT the next day
    }

    [Fact]
    public async Task FallBack_AnAmbiguousTickRunsOnce()
    {
        // America/New_York, 2026-11-01: 02:00 EDT → 01:00 EST. 01:30 happens twice (05:30Z and 06:30Z); a daily job runs once.
        var day = new DateTimeOffset(2026, 10, 31, 12, 0, 0, TimeSpan.Zero);
        await using var dst = EngineHarness.Create(CreateBackend, day);
        var put = await dst.Schedules.PutAsync(Every("nightly", "0 30 1 * * *", "America/New_York"));
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 5, 30, 0, TimeSpan.Zero), put.Schedule!.NextFire);

        for (var t = day; t < new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero); t = t.AddMinutes(15))
        {
            dst.Time.SetUtcNow(t);
            await dst.Schedules.FireDueAsync();
        }

        var fired = (await dst.Store.ListAsync(new JobListQuery { Limit = 100 })).Items.Select(j => j.Id).ToList();
        Assert.Equal(["nightly::20261101T053000Z"], fired);
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 6, 30, 0, TimeSpan.Zero), (await dst.Schedules.GetAsync("nightly"))!.NextFire); // 01:30 EST
    }

    [Theory]
    [InlineData(MisfirePolicy.FireOnce)]
    [InlineData(MisfirePolicy.Skip)]
    public async Task DownForTenMinutes_MisfirePolicyDecides(MisfirePolicy policy)
    {
        await _silo.Schedules.PutAsync(Every("minutely", "* * * * *", misfire: policy));
        Assert.Equal(Start.AddMinutes(1), (await _silo.Schedules.GetAsync("minutely"))!.NextFire);

        _silo.Time.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(30)); // the cluster was down: ticks 12:01 … 12:10 missed
        await _silo.Schedules.FireDueAsync();

        var jobs = await JobsOfAsync("minutely");
        if (policy == MisfirePolicy.FireOnce)
        {
            Assert.Equal([ScheduleRules.JobId("minutely", Start.AddMinutes(10))], jobs); // once, for the latest missed tick
        }
        else
        {
            Assert.Empty(jobs);
        }

        Assert.Equal(Start.AddMinutes(11), (await _silo.Schedules.GetAsync("minutely"))!.NextFire); // then it continues
    }

    [Fact]
    public async Task DownForTwelveDays_APerSecondScheduleFiresOnce_ForTheLatestTick()
    {
        // More missed ticks (1,036,800) than a misfire scan walks (1,000,000): its end is no longer the latest tick.
        await _silo.Schedules.PutAsync(Every("persecond", "* * * * * *"));
        _silo.Time.Advance(TimeSpan.FromDays(12));
        await _silo.Schedules.FireDueAsync();
        Assert.Equal([ScheduleRules.JobId("persecond", Start.AddDays(12))], await JobsOfAsync("persecond"));
        Assert.Equal(Start.AddDays(12).AddSeconds(1), (await _silo.Schedules.GetAsync("persecond"))!.NextFire);

        // The next round is no misfire: it fires the next tick as usual.
        _silo.Time.Advance(TimeSpan.FromSeconds(1));
        await _silo.Schedules.FireDueAsync();
        Assert.Equal(2, (await JobsOfAsync("persecond")).Count);
    }

    [Fact]
    public async Task OverlapSkip_SkipsTicksWhileThePreviousJobIsUnfinished()
    {
        await _silo.Schedules.PutAsync(Every("slow", "*/1 * * * * *", overlap: OverlapPolicy.Skip));
        _silo.Time.Advance(TimeSpan.FromSeconds(1));
        await _silo.Schedules.FireDueAsync();
        var first = Assert.Single(await JobsOfAsync("slow"));

        var claim = Assert.Single(await _silo.ClaimAsync(10, "cron"));
        for (var i = 0; i < 3; i++)
        {
            _silo.Time.Advance(TimeSpan.FromSeconds(1));
            await _silo.Schedules.FireDueAsync();
        }

        Assert.Equal([first], await JobsOfAsync("slow")); // still running: three ticks skipped

        await _silo.EndAsync(claim, AttemptOutcome.Succeeded);
        _silo.Time.Advance(TimeSpan.FromSeconds(1));
        await _silo.Schedules.FireDueAsync();
        Assert.Equal([first, ScheduleRules.JobId("slow", Start.AddSeconds(5))], await JobsOfAsync("slow"));
    }

    [Fact]
    public async Task PauseResumeTrigger()
    {
        await _silo.Schedules.PutAsync(Every("ctl", "*/1 * * * * *"));
        var paused = await _silo.Schedules.CommandAsync("ctl", ScheduleCommand.Pause);
        Assert.True(paused.Schedule!.Definition.Paused);
        Assert.Null(paused.Schedule.NextFire);

        _silo.Time.Advance(TimeSpan.FromSeconds(5));
        await _silo.Schedules.FireDueAsync();
        Assert.Empty(await JobsOfAsync("ctl"));

        var triggered = await _silo.Schedules.CommandAsync("ctl", ScheduleCommand.Trigger);
        Assert.Equal(JobCommandStatus.Ok, triggered.Status);
        Assert.Equal(ScheduleRules.TriggerJobId("ctl", Start.AddSeconds(5)), Assert.Single(await JobsOfAsync("ctl")));

        var resumed = await _silo.Schedules.CommandAsync("ctl", ScheduleCommand.Resume);
        Assert.Equal(Start.AddSeconds(6), resumed.Schedule!.NextFire); // the next tick after the resume, not the paused ones

        // Re-putting the same definition (a restart defining it in code) keeps the operator's pause.
        await _silo.Schedules.CommandAsync("ctl", ScheduleCommand.Pause);
        await _silo.Schedules.EnsureAsync([Every("ctl", "*/1 * * * * *")]);
        Assert.True((await _silo.Schedules.GetAsync("ctl"))!.Definition.Paused);

        Assert.Equal(JobCommandStatus.Ok, (await _silo.Schedules.CommandAsync("ctl", ScheduleCommand.Delete)).Status);
        Assert.Null(await _silo.Schedules.GetAsync("ctl"));
        Assert.Equal(JobCommandStatus.NotFound, (await _silo.Schedules.CommandAsync("ctl", ScheduleCommand.Trigger)).Status);
    }

    [Fact]
    public async Task InvalidDefinitions_AreRefusedWithEveryReason()
    {
        var result = await _silo.Schedules.PutAsync(new ScheduleDefinition
        {
            Id = "bad id", Cron = "61 * * * *", TimeZone = "Mars/Olympus", Job = new JobRequest("nope") { Delay = TimeSpan.FromSeconds(1) },
        });
        Assert.Equal(JobCommandStatus.Invalid, result.Status);
        var all = string.Join("\n", result.Errors);
        Assert.Contains("schedule id 'bad id'", all, StringComparison.Ordinal);
        Assert.Contains("cron '61 * * * *'", all, StringComparison.Ordinal);
        Assert.Contains("Mars/Olympus", all, StringComparison.Ordinal);
        Assert.Contains("'nope'", all, StringComparison.Ordinal);
        Assert.Contains("delaySeconds", all, StringComparison.Ordinal);
        Assert.Empty(await _silo.Schedules.ListAsync());

        // A path segment as an id: no URL could name the schedule.
        var dots = await _silo.Schedules.PutAsync(new ScheduleDefinition { Id = "..", Cron = "* * * * *", Job = new JobRequest("noop") });
        Assert.Equal(JobCommandStatus.Invalid, dots.Status);
        Assert.Contains("not dots alone", string.Join("\n", dots.Errors), StringComparison.Ordinal);
        Assert.Empty(await _silo.Schedules.ListAsync());
    }

    [Fact]
    public async Task FanIn_WaitsForEveryDependency_ThenRuns()
    {
        await Insert(Job("a", queue: "q1"), Job("b", queue: "q2"), Job("c", queue: "q3") with { DependsOn = ["a", "b"] });
        Assert.Equal(JobState.Waiting, (await _silo.Store.GetAsync("c"))!.State);

        Assert.Equal(["a"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "q1"));
        await _silo.Engine.FollowUps.SweepAsync();
        Assert.Equal(JobState.Waiting, (await _silo.Store.GetAsync("c"))!.State); // b still pending

        Assert.Equal(["b"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "q2"));
        await Poll.UntilAsync(async () => (await _silo.Store.GetAsync("c"))!.State == JobState.Queued, TimeSpan.FromSeconds(10), "c was not released by the fast path after its last dependency succeeded");
        Assert.Equal(["c"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "q3"));
    }

    [Fact]
    public async Task AFailedDependency_CancelsTheDependentNamingIt_UnlessItContinuesOnFailure()
    {
        await Insert(Job("a"), Job("strict") with { DependsOn = ["a"] }, Job("lenient") with { DependsOn = ["a"], ContinueOnDependencyFailure = true });
        Assert.Equal(["a"], await _silo.RunReadyAsync(AttemptOutcome.Failed));
        Assert.Equal(JobState.DeadLettered, (await _silo.Store.GetAsync("a"))!.State);

        await _silo.Engine.FollowUps.SweepAsync(); // what a silo's sweep does if the fast path died with its silo
        var strict = await _silo.Store.GetAsync("strict");
        Assert.Equal(JobState.Cancelled, strict!.State);
        Assert.Contains("Job a", strict.LastError!.Message, StringComparison.Ordinal);
        Assert.Contains("DeadLettered", strict.LastError.Message, StringComparison.Ordinal);
        Assert.Equal(JobState.Queued, (await _silo.Store.GetAsync("lenient"))!.State);
    }

    [Fact]
    public async Task ADependencyFinishedBeforeTheDependentWasStored_IsSettledByTheSweep()
    {
        await Insert(Job("early"));
        await _silo.RunReadyAsync();
        await Insert(Job("late") with { DependsOn = ["early"] });
        Assert.Equal(JobState.Waiting, (await _silo.Store.GetAsync("late"))!.State);
        await _silo.Engine.FollowUps.SweepAsync();
        Assert.Equal(JobState.Queued, (await _silo.Store.GetAsync("late"))!.State);
    }

    [Fact]
    public async Task Batch_ClosesOnceWhenEveryMemberFinished_AndSubmitsItsCompletionOnce()
    {
        var members = Enumerable.Range(0, 5).Select(i => Job($"b1::{i}") with { BatchId = "b1" }).ToList();
        var (created, results, _) = await _silo.Store.InsertBatchAsync("b1", new JobRequest("echo") { Queue = "done" }, members, _silo.Time.GetUtcNow());
        Assert.True(created);
        Assert.All(results!, r => Assert.True(r!.Created));

        var claims = await _silo.ClaimAsync();
        Assert.Equal(5, claims.Count);
        for (var i = 0; i < 4; i++)
        {
            await _silo.EndAsync(claims[i], AttemptOutcome.Succeeded);
        }

        await _silo.Engine.FollowUps.SweepAsync();
        var open = (await _silo.Store.BatchAsync("b1"))!.Value;
        Assert.False(open.View.Finished);
        Assert.Equal(4, open.View.Succeeded);
        Assert.Null(await _silo.Store.GetAsync(JobStore.BatchCompletionId("b1")));

        await _silo.EndAsync(claims[4], AttemptOutcome.Failed, permanent: true);
        await Poll.UntilAsync(async () => await _silo.Store.GetAsync(JobStore.BatchCompletionId("b1")) is not null, TimeSpan.FromSeconds(10), "the completion job was not submitted");
        var done = (await _silo.Store.BatchAsync("b1"))!.Value;
        Assert.True(done.View.Finished && done.Closed);
        Assert.Equal((4, 1, 0), (done.View.Succeeded, done.View.DeadLettered, done.View.Cancelled));
        var completion = await _silo.Store.GetAsync(JobStore.BatchCompletionId("b1"));
        Assert.Equal("done", completion!.Queue);
        Assert.Contains("\"succeeded\":4", completion.Payload, StringComparison.Ordinal);
        Assert.Contains("\"deadLettered\":1", completion.Payload, StringComparison.Ordinal);

        // A sweep (every silo runs one) and the completion job's deletion change nothing: it was submitted once.
        await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "done");
        await _silo.Engine.DeleteAsync(JobStore.BatchCompletionId("b1"));
        await _silo.Engine.FollowUps.SweepAsync();
        await _silo.Engine.FollowUps.CheckBatchAsync("b1");
        Assert.Null(await _silo.Store.GetAsync(JobStore.BatchCompletionId("b1")));
    }

    [Fact]
    public async Task ABatchsCompletion_IsSubmitted_EvenIfThePayloadLimitWasLoweredAfterTheBatchWasAccepted()
    {
        // Accepted with the batch under a 64 KiB limit; the silo that closes the batch runs with 1 KiB (redeployed).
        await using var lowered = _silo.Twin(configure: o => o.MaxPayloadBytes = 1024);
        var payload = System.Text.Json.JsonSerializer.Serialize(new { note = new string('x', 2000) });
        Assert.True(payload.Length > 1024);
        var (created, _, _) = await _silo.Store.InsertBatchAsync("b4", new JobRequest("echo", payload) { Queue = "done" }, [Job("b4::0") with { BatchId = "b4" }], _silo.Time.GetUtcNow());
        Assert.True(created);

        await lowered.EndAsync(Assert.Single(await lowered.ClaimAsync()), AttemptOutcome.Succeeded);
        await Poll.UntilAsync(async () => (await _silo.Store.BatchAsync("b4"))!.Value.Closed, TimeSpan.FromSeconds(10), "the batch did not close");
        var completion = await _silo.Store.GetAsync(JobStore.BatchCompletionId("b4"));
        Assert.NotNull(completion);
        Assert.Equal(payload, completion.Payload);
        Assert.Equal("done", completion.Queue);
    }

    [Fact]
    public async Task AFailureWhoseFollowUpWasLost_StillCancelsTheDependent_EvenIfAnotherDependencySettledFirst()
    {
        await Insert(Job("fa", queue: "q1"), Job("ok", queue: "q2"), Job("both") with { DependsOn = ["fa", "ok"] });
        var failed = Assert.Single(await _silo.ClaimAsync(10, "q1"));
        await _silo.EndWithoutFollowUpsAsync(failed, AttemptOutcome.Failed); // its silo died before the follow-up
        Assert.Equal(JobState.DeadLettered, (await _silo.Store.GetAsync("fa"))!.State);

        Assert.Equal(["ok"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "q2")); // settles "both" right away
        await Poll.UntilAsync(async () => (await _silo.Store.PendingAsync("both")).Length == 1, TimeSpan.FromSeconds(10), "the succeeded dependency to be dropped");
        Assert.Equal(JobState.Waiting, (await _silo.Store.GetAsync("both"))!.State); // not released: "fa" is still pending

        await _silo.Engine.FollowUps.SweepAsync();
        var both = await _silo.Store.GetAsync("both");
        Assert.Equal(JobState.Cancelled, both!.State);
        Assert.Contains("Job fa", both.LastError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInsertThatStoredNothing_RegistersNoDependency_SoAnotherJobsEndCannotSettleTheJobOfThatId()
    {
        await Insert(Job("y", queue: "qy"), Job("d") with { DependsOn = ["y"] }, Job("a", queue: "qa"));
        var again = await _silo.Store.InsertAsync([Job("d") with { DependsOn = ["a"] }]);
        Assert.False(again[0]!.Created); // the id is taken: this submission stored nothing
        Assert.Empty(await _silo.Store.DependentsAsync("a"));

        Assert.Equal(["a"], await _silo.RunReadyAsync(AttemptOutcome.Failed, "qa"));
        await _silo.Engine.FollowUps.ReleaseDependentsAsync("a", JobState.DeadLettered); // the fast path, awaited
        await _silo.Engine.FollowUps.SweepAsync();
        Assert.Equal(JobState.Waiting, (await _silo.Store.GetAsync("d"))!.State); // still waiting for y, its only dependency
    }

    [Fact]
    public async Task ARequeuedDependent_WaitsAgain_AndRunsOnlyOnceEveryDependencySucceeded()
    {
        // Cancelled while its dependency was still queued, then requeued: it waits, it does not run.
        await Insert(Job("p", queue: "qp"), Job("c", queue: "qc") with { DependsOn = ["p"] });
        Assert.Equal(JobCommandStatus.Ok, (await _silo.Engine.CancelAsync("c")).Status);
        var requeued = await _silo.Engine.RequeueAsync("c");
        Assert.Equal((JobCommandStatus.Ok, JobState.Waiting), (requeued.Status, requeued.Job!.State));
        await _silo.Engine.FollowUps.SweepAsync();
        Assert.Equal(JobState.Waiting, (await _silo.Store.GetAsync("c"))!.State);
        Assert.Empty(await _silo.ClaimAsync(10, "qc"));

        // Its dependency fails: it is cancelled, naming it; requeued, it is cancelled again for the same reason.
        Assert.Equal(["p"], await _silo.RunReadyAsync(AttemptOutcome.Failed, "qp"));
        await Poll.UntilAsync(async () => (await _silo.Store.GetAsync("c"))!.State == JobState.Cancelled, TimeSpan.FromSeconds(10), "c to be cancelled by p's failure");
        Assert.Equal(JobState.Waiting, (await _silo.Engine.RequeueAsync("c")).Job!.State);
        var again = await Poll.UntilAsync(() => _silo.Store.GetAsync("c"), j => j!.State != JobState.Waiting, TimeSpan.FromSeconds(10), "the requeued c to be settled");
        Assert.Equal(JobState.Cancelled, again!.State);
        Assert.Contains("Job p", again.LastError!.Message, StringComparison.Ordinal);

        // The dependency requeued and then succeeding releases it, and it runs, once.
        Assert.Equal(JobState.Queued, (await _silo.Engine.RequeueAsync("p")).Job!.State);
        Assert.Equal(JobState.Waiting, (await _silo.Engine.RequeueAsync("c")).Job!.State);
        Assert.Equal(["p"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "qp"));
        await Poll.UntilAsync(async () => (await _silo.Store.GetAsync("c"))!.State == JobState.Queued, TimeSpan.FromSeconds(10), "c to be released by p's success");
        Assert.Equal(["c"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "qc"));
    }

    [Fact]
    public async Task ARequeueThatWouldGiveAUniqueKeyTwoPendingJobs_IsAConflictNamingTheKey()
    {
        await Insert(Job("u1", queue: "qu") with { UniqueKey = "nightly" });
        Assert.Equal(["u1"], await _silo.RunReadyAsync(AttemptOutcome.Failed, "qu"));
        await Insert(Job("u2", queue: "qu") with { UniqueKey = "nightly" }); // the finished holder let it go (uniqueFor 0)

        var refused = await _silo.Engine.RequeueAsync("u1");
        Assert.Equal(JobCommandStatus.Conflict, refused.Status);
        Assert.Contains("unique key 'nightly'", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(JobState.DeadLettered, refused.Job!.State);
        Assert.Equal(["u2"], await _silo.RunReadyAsync(AttemptOutcome.Succeeded, "qu")); // one job of the key ran
    }

    [Fact]
    public async Task ADeletedDependency_LeavesNoStubBehind()
    {
        var results = await _silo.Store.InsertAsync([Job("orphan") with { DependsOn = ["gone"] }]);
        Assert.True(results[0]!.Created);
        Assert.Null(await _silo.Store.LoadAsync("gone")); // no hash made for the missing dependency
        await _silo.Engine.FollowUps.SweepAsync();
        var orphan = await _silo.Store.GetAsync("orphan");
        Assert.Equal(JobState.Cancelled, orphan!.State);
        Assert.Contains("was deleted", orphan.LastError!.Message, StringComparison.Ordinal);
        Assert.True((await _silo.Store.InsertAsync([Job("gone")]))[0]!.Created); // the id is free
    }

    [Fact]
    public async Task ABatchIdInUse_GetsNoNewMembers()
    {
        var first = await _silo.Store.InsertBatchAsync("b2", null, [Job("b2::0") with { BatchId = "b2" }], _silo.Time.GetUtcNow());
        Assert.True(first.Created);
        var again = await _silo.Store.InsertBatchAsync("b2", null, [Job("b2::0") with { BatchId = "b2" }, Job("b2::1") with { BatchId = "b2" }], _silo.Time.GetUtcNow());
        Assert.False(again.Created);
        Assert.Null(await _silo.Store.GetAsync("b2::1"));
        Assert.Equal(1, (await _silo.Store.BatchAsync("b2"))!.Value.View.Total);
    }

    [Fact]
    public async Task ABatchWithAMemberWhoseIdIsTaken_IsNotStored_SoItCannotStayOpenForEver()
    {
        // A job submitted on its own under an id a batch then names as a member: the batch would count it and never see it finish.
        await _silo.Store.InsertAsync([Job("b3::a")]);
        Assert.NotNull(await _silo.Store.GetAsync("b3::a"));

        var (created, _, existing) = await _silo.Store.InsertBatchAsync("b3", null, [Job("b3::x") with { BatchId = "b3" }, Job("b3::a") with { BatchId = "b3" }], _silo.Time.GetUtcNow());

        Assert.Equal((false, 1), (created, existing));
        Assert.Null(await _silo.Store.BatchAsync("b3"));
        Assert.Null(await _silo.Store.GetAsync("b3::x"));
        Assert.Null((await _silo.Store.GetAsync("b3::a"))!.BatchId);
    }

    [Fact]
    public async Task ABatchWhoseCompletionIdIsTaken_IsNotStored_ForItsCompletionCouldNeverBeSubmitted()
    {
        await _silo.Store.InsertAsync([Job("b5::complete")]);
        var members = new[] { Job("b5::0") with { BatchId = "b5" } };
        Assert.Equal((false, 1), ((bool, int))(await InsertBatch("b5", new JobRequest("echo"), members)));
        Assert.Null(await _silo.Store.BatchAsync("b5"));
        Assert.Null(await _silo.Store.GetAsync("b5::0"));

        // Without a completion job the same batch is stored: the id is only in the way of a completion.
        Assert.Equal((true, -1), ((bool, int))(await InsertBatch("b5", null, members)));
    }

    [Fact]
    public async Task ACompletionIdTakenAfterTheBatchWasStored_ClosesTheBatch_WithoutTakingThatJobForItsCompletion()
    {
        // Possible only for a job stored before ordinary submissions were refused such ids (the store itself allows it).
        Assert.Equal((true, -1), ((bool, int))(await InsertBatch("b6", new JobRequest("echo") { Queue = "done" }, [Job("b6::0") with { BatchId = "b6" }])));
        await _silo.Store.InsertAsync([Job("b6::complete") with { Queue = "other" }]);

        await _silo.EndAsync(Assert.Single(await _silo.ClaimAsync()), AttemptOutcome.Succeeded);
        await Poll.UntilAsync(async () => (await _silo.Store.BatchAsync("b6"))!.Value.Closed, TimeSpan.FromSeconds(10), "the batch did not close");
        var other = await _silo.Store.GetAsync("b6::complete");
        Assert.Equal(("other", JobState.Queued), (other!.Queue, other.State));
        var batch = (await _silo.Store.BatchAsync("b6"))!.Value;
        Assert.Equal((true, 1, (string?)null), (batch.View.Finished, batch.View.Succeeded, batch.View.CompletionJobId)); // not the other job
    }

    [Fact]
    public async Task ABatchIsNotClosed_WhenAMemberIsRequeuedBetweenTheReadOfItsCountsAndTheClose()
    {
        // Written through the store alone (no follow-ups), so the test decides when the close happens.
        var now = _silo.Time.GetUtcNow();
        Assert.Equal((true, -1), ((bool, int))(await InsertBatch("b7", new JobRequest("echo") { Queue = "done" }, [Job("b7::0") with { BatchId = "b7" }, Job("b7::1") with { BatchId = "b7" }])));
        var claims = await _silo.ClaimAsync();
        Assert.Equal(2, claims.Count);
        await StoreSteps.EndAsync(_silo.Store, claims.Single(c => c.JobId == "b7::1"), new AttemptEnd(AttemptOutcome.Failed, Error: new JobError("Boom", "failed"), Permanent: true), now);
        await StoreSteps.EndAsync(_silo.Store, claims.Single(c => c.JobId == "b7::0"), new AttemptEnd(AttemptOutcome.Succeeded, "null"), now);
        var read = (await _silo.Store.BatchAsync("b7"))!.Value;
        Assert.True(read.View.Finished);

        // An operator retries the dead-lettered member after the counts were read, before the close.
        Assert.Equal(JobCommandStatus.Ok, (await StoreSteps.CommandAsync(_silo.Store, "b7::1", JobRules.Requeue, now)).Status);
        Assert.Equal((false, false), await _silo.Store.CloseBatchAsync("b7", Job("b7::complete", "done"), read.Generation));
        var open = (await _silo.Store.BatchAsync("b7"))!.Value;
        Assert.Equal((false, false), (open.View.Finished, open.Closed));
        Assert.Null(await _silo.Store.GetAsync("b7::complete"));

        // Once it has finished again, the batch closes with its completion.
        await StoreSteps.EndAsync(_silo.Store, Assert.Single(await _silo.ClaimAsync()), new AttemptEnd(AttemptOutcome.Succeeded, "null"), now);
        var done = (await _silo.Store.BatchAsync("b7"))!.Value;
        Assert.Equal((true, 2), (done.View.Finished, done.View.Succeeded));
        Assert.Equal((true, true), await _silo.Store.CloseBatchAsync("b7", Job("b7::complete", "done"), done.Generation));
    }

    private async Task<(bool Created, int ExistingMember)> InsertBatch(string id, JobRequest? completion, IReadOnlyList<NewJob> members)
    {
        var (created, _, existing) = await _silo.Store.InsertBatchAsync(id, completion, members, _silo.Time.GetUtcNow());
        return (created, existing);
    }

    [Fact]
    public async Task AScheduleWhoseJobNoLongerValidates_SkipsItsTick_AndTheOthersStillFire()
    {
        await _silo.Schedules.PutAsync(Every("big", "*/1 * * * * *") with { Job = new JobRequest("noop", "{\"padding\":\"" + new string('x', 100) + "\"}") });
        await _silo.Schedules.PutAsync(Every("small", "*/1 * * * * *"));
        await using var strict = _silo.Twin(configure: o => o.MaxPayloadBytes = 64); // a silo started with a lower payload cap
        _silo.Time.Advance(TimeSpan.FromSeconds(1));
        await strict.Schedules.FireDueAsync();

        Assert.Empty(await JobsOfAsync("big"));
        Assert.Single(await JobsOfAsync("small"));
        Assert.Equal(Start.AddSeconds(2), (await _silo.Schedules.GetAsync("big"))!.NextFire); // moved on, not stuck
        Assert.Equal(JobCommandStatus.Invalid, (await strict.Schedules.CommandAsync("big", ScheduleCommand.Trigger)).Status);
    }

    private async Task Insert(params NewJob[] jobs)
    {
        var results = await _silo.Store.InsertAsync(jobs);
        Assert.All(results, r => Assert.True(r!.Created));
    }

    private NewJob Job(string id, string queue = "default") =>
        new(id, "noop", queue, 0, null, 1, TimeSpan.FromSeconds(30), null, _silo.Time.GetUtcNow(), null) { Seq = _silo.Engine.Sequence.Next(1), MaxInterruptions = 3 };
}

/// <summary>On the embedded engine (SQLite).</summary>
public sealed class EmbeddedSchedulingEngineTests : SchedulingEngineTests
{
    private readonly List<string> _directories = [];

    protected override bool StoreHasItsOwnClock => false;

    internal override IKvBackend CreateBackend(FakeTimeProvider time)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ow-sched-" + Guid.NewGuid().ToString("N"));
        _directories.Add(directory);
        return new SqliteKvBackend(directory, EmbeddedDurability.Commit, 1024 * 1024, time, exclusive: false);
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var directory in _directories)
        {
            TempDirectory.Delete(directory);
        }
    }
}

/// <summary>On a real redis-server (the Lua interpreter of the same units).</summary>
public sealed class RedisSchedulingEngineTests(RedisFixture redis) : SchedulingEngineTests, IClassFixture<RedisFixture>
{
    protected override bool StoreHasItsOwnClock => true;

    [Fact]
    public async Task ASiloThatKnowsItsClockRunsAhead_DoesNotFireATickTheStoreSaysIsNotDue()
    {
        // This silo's clock runs 10 minutes ahead of redis-server's (this machine's clock).
        await using var ahead = EngineHarness.Create(CreateBackend, DateTimeOffset.UtcNow.AddMinutes(10));
        var put = await ahead.Schedules.PutAsync(Every("early", "0 * * * * *"));
        ahead.Time.SetUtcNow(put.Schedule!.NextFire!.Value); // due by this silo's clock, about 10 minutes early by the store's
        Assert.Equal(TimeSpan.Zero, ahead.Engine.ClockOffset);

        var (skew, _, _) = await ahead.Engine.MeasureClockSkewAsync();
        Assert.True(skew > TimeSpan.FromMinutes(9), $"skew {skew}");
        Assert.Equal(skew, ahead.Engine.ClockOffset);
        await ahead.Schedules.FireDueAsync();
        Assert.Null((await ahead.Schedules.GetAsync("early"))!.LastFire);

        // The same tick, on a silo of the same clock that has not measured it (as every silo did before): it fires.
        await using var unaware = ahead.Twin();
        Assert.Equal(TimeSpan.Zero, unaware.Engine.ClockOffset);
        await unaware.Schedules.FireDueAsync();
        Assert.Equal(put.Schedule.NextFire, (await ahead.Schedules.GetAsync("early"))!.LastFire);
    }

    internal override IKvBackend CreateBackend(FakeTimeProvider time) => new RedisKvBackend(redis.Connection, "{t" + Guid.NewGuid().ToString("N")[..8] + "}:n");
}
