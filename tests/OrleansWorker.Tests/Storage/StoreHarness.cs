using OrleansWorker.Execution;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;

namespace OrleansWorker.Tests.Storage;

/// <summary>
/// A backend shared by several stores of one process (two in-process silos): not disposed by them, not exclusive.
/// A test may also see each write call first (<paramref name="beforeApply"/>), each claim's answer before the silo
/// does (<paramref name="afterClaim"/>: the claim is applied, its answer held until the hook returns), and say how large
/// calls should be.
/// </summary>
internal sealed class SharedBackend(IKvBackend inner, Func<IReadOnlyList<KvUnit>, Task>? beforeApply = null, bool? prefersLargeCalls = null,
    Func<KvClaimResult, Task>? afterClaim = null) : IKvBackend
{
    public KvDescription Description => inner.Description with { Exclusive = false };

    public bool PrefersLargeCalls => prefersLargeCalls ?? inner.PrefersLargeCalls;

    public string Channel => inner.Channel;

    public event Action<string>? Message
    {
        add => inner.Message += value;
        remove => inner.Message -= value;
    }

    public async Task<KvResult[]> ApplyAsync(IReadOnlyList<KvUnit> units)
    {
        if (beforeApply is not null)
        {
            await beforeApply(units);
        }

        return await inner.ApplyAsync(units);
    }

    public async Task<KvClaimResult> ClaimAsync(KvClaim claim, IReadOnlyList<string> fields)
    {
        var result = await inner.ClaimAsync(claim, fields);
        if (afterClaim is not null)
        {
            await afterClaim(result);
        }

        return result;
    }

    public Task<int> AcquirePermitsAsync(string key, string holder, int want, int limit) => inner.AcquirePermitsAsync(key, holder, want, limit);

    public Task<(int Granted, long NextMs)> AcquireWindowAsync(string key, string memberPrefix, int want, int limit, long nowMs, long periodMs) =>
        inner.AcquireWindowAsync(key, memberPrefix, want, limit, nowMs, periodMs);

    public IKvReadBatch CreateReadBatch() => inner.CreateReadBatch();

    public Task<IReadOnlyList<KvSettingWarning>> SettingsWarningsAsync() => inner.SettingsWarningsAsync();

    public Task PingAsync(CancellationToken cancellationToken) => inner.PingAsync(cancellationToken);

    public Task<DateTimeOffset> ClockAsync(string key) => inner.ClockAsync(key);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>
/// Checks the store's invariant: every job is indexed exactly where its state says and nowhere else (ready set of its
/// queue, scheduled set, waiting set, finished index of its state and queue; a running job in its owner's run set).
/// </summary>
internal static class StoreAudit
{
    public static async Task<List<string>> ProblemsAsync(JobStore store, IKvBackend kv, IReadOnlyCollection<string> ids)
    {
        var keys = store.Keys;
        var queues = await store.QueuesAsync();
        var problems = new List<string>();
        var jobs = await store.LoadAsync(ids.ToList());
        var batch = kv.CreateReadBatch();
        var ready = new Dictionary<(int, string), Task<KvScored[]>>();
        var finished = new Dictionary<(int, JobState, string), Task<KvScored[]>>();
        var scheduled = new Dictionary<int, Task<KvScored[]>>();
        var waiting = new Dictionary<int, Task<KvScored[]>>();
        for (var s = 0; s < keys.Shards; s++)
        {
            scheduled[s] = batch.RangeByScore(keys.Scheduled(s), double.NegativeInfinity, double.PositiveInfinity, false, 0, 1_000_000);
            waiting[s] = batch.RangeByScore(keys.Waiting(s), double.NegativeInfinity, double.PositiveInfinity, false, 0, 1_000_000);
            foreach (var q in queues)
            {
                ready[(s, q)] = batch.RangeByScore(keys.Ready(s, q), double.NegativeInfinity, double.PositiveInfinity, false, 0, 1_000_000);
                foreach (var state in new[] { JobState.Succeeded, JobState.DeadLettered, JobState.Cancelled })
                {
                    finished[(s, state, q)] = batch.RangeByScore(keys.Finished(s, state, q), double.NegativeInfinity, double.PositiveInfinity, false, 0, 1_000_000);
                }
            }
        }

        await batch.ExecuteAsync();
        var where = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Seen(string id, string index)
        {
            if (!where.TryGetValue(id, out var list))
            {
                where[id] = list = [];
            }

            list.Add(index);
        }

        foreach (var ((_, q), members) in ready)
        {
            foreach (var m in await members)
            {
                Seen(m.Member[16..], $"Queued:{q}");
            }
        }

        foreach (var ((_, state, q), members) in finished)
        {
            foreach (var m in await members)
            {
                Seen(m.Member, $"{state}:{q}");
            }
        }

        foreach (var members in scheduled.Values)
        {
            foreach (var m in await members)
            {
                Seen(m.Member, "Scheduled");
            }
        }

        foreach (var members in waiting.Values)
        {
            foreach (var m in await members)
            {
                Seen(m.Member, "Waiting");
            }
        }

        var running = jobs.Where(j => j is { State: JobState.Running, Owner: not null }).Select(j => j!).ToList();
        var runBatch = kv.CreateReadBatch();
        var runSets = running.Select(j => keys.Run(keys.ShardOf(j.Id), j.Owner!)).Distinct().ToDictionary(k => k, runBatch.SetMembers);
        await runBatch.ExecuteAsync();
        foreach (var job in running)
        {
            if (!(await runSets[keys.Run(keys.ShardOf(job.Id), job.Owner!)]).Contains(job.Id))
            {
                problems.Add($"{job.Id}: Running for {job.Owner} but not in its run set");
            }
        }

        foreach (var job in jobs.OfType<JobSnapshot>())
        {
            var indexes = where.GetValueOrDefault(job.Id) ?? [];
            var expected = job.State switch
            {
                JobState.Queued => [$"Queued:{job.Queue}"],
                JobState.Scheduled => ["Scheduled"],
                JobState.Waiting => ["Waiting"],
                JobState.Running => Array.Empty<string>(),
                _ => [$"{job.State}:{job.Queue}"],
            };
            if (!indexes.Order().SequenceEqual(expected.Order()))
            {
                problems.Add($"{job.Id}: state {job.State} but indexed under [{string.Join(", ", indexes)}]");
            }
        }

        return problems;
    }
}

/// <summary>Engine-level steps the contract tests drive the store with (the same calls the engine makes).</summary>
internal static class StoreSteps
{
    public static readonly RetrySettings Retry = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));

    public static async Task<(JobTransition Stored, ApplyOutcome Outcome)> EndAsync(JobStore store, ClaimedAttempt claim, AttemptEnd end, DateTimeOffset now) =>
        await Completion.ApplyAsync(JobRules.AttemptEnded(claim, end, now, Retry, 1.0), async t => (await store.ApplyAsync([t]))[0]);

    public static async Task<int> PromoteAsync(JobStore store, DateTimeOffset now)
    {
        var (due, _) = await store.DueAsync(now, 1000);
        var transitions = due.Select(j => JobRules.Promote(j, now)).OfType<JobTransition>().ToList();
        return transitions.Count == 0 ? 0 : (await store.ApplyAsync(transitions)).Count(o => o == ApplyOutcome.Applied);
    }

    /// <summary>What a surviving silo does for an owner that died: revoke it, requeue its running jobs as interrupted.</summary>
    public static async Task<int> RecoverAsync(JobStore store, string owner, DateTimeOffset now)
    {
        var requeued = 0;
        for (var s = 0; s < store.Shards; s++)
        {
            await store.RevokeAsync(new ShardOwner(s, owner), now, leaseEndedBy: null);
        }

        foreach (var revoked in await store.RevokedWithJobsAsync())
        {
            var jobs = await store.OwnerJobsAsync(revoked);
            if (jobs.Count > 0)
            {
                requeued += (await store.ApplyAsync(jobs.Select(j => JobRules.Interrupted(j, "silo died", now)).ToList())).Count(o => o == ApplyOutcome.Applied);
            }

            await store.ForgetOwnerAsync(revoked);
        }

        return requeued;
    }

    public static async Task<JobCommandResult> CommandAsync(JobStore store, string id, Func<JobSnapshot, DateTimeOffset, (JobTransition? Transition, string? Refusal)> decide, DateTimeOffset now)
    {
        var job = await store.LoadAsync(id);
        if (job is null)
        {
            return new JobCommandResult(JobCommandStatus.NotFound, null);
        }

        var (transition, refusal) = decide(job, now);
        if (refusal is not null)
        {
            return new JobCommandResult(JobCommandStatus.Conflict, await store.GetAsync(id), refusal);
        }

        var applied = transition is null ? ApplyOutcome.Applied : (await store.ApplyAsync([transition]))[0];
        return new JobCommandResult(applied == ApplyOutcome.Applied ? JobCommandStatus.Ok : JobCommandStatus.Conflict, await store.GetAsync(id));
    }
}

/// <summary>Test shorthands for the store.</summary>
internal static class JobStoreTestExtensions
{
    /// <summary>Stores a queue's settings as they are, whatever was stored.</summary>
    public static Task SaveQueueSettingsAsync(this JobStore store, string queue, QueueSettings settings) => store.UpdateQueueSettingsAsync(queue, _ => settings);
}
