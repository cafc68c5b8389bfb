using System.Collections.Concurrent;
using System.Globalization;
using OrleansWorker.Execution;
using OrleansWorker.Storage.Kv;

namespace OrleansWorker.Storage;

/// <summary>
/// The one job store: lays jobs, queues, leases and indexes out over a KV engine (redis-server or the embedded
/// engine) and turns decided transitions (<see cref="JobTransition"/>, made by <c>JobRules</c>) into guarded units.
/// It decides nothing about a job's fate; it only knows where each state keeps a job.
/// </summary>
internal sealed class JobStore : IAsyncDisposable
{
    /// <summary>The final states, each with its finished index per queue.</summary>
    internal static readonly JobState[] FinishedStates = [JobState.Succeeded, JobState.DeadLettered, JobState.Cancelled];
    private readonly IKvBackend _kv;
    private readonly ConcurrentDictionary<string, byte> _knownQueues = new(StringComparer.Ordinal);
    private int _layout;

    public JobStore(IKvBackend kv, string prefix, int shards)
    {
        _kv = kv;
        Keys = new JobKeys(prefix, shards);
        _layout = kv.Description.Exclusive ? LayoutVersion : 1;
        _kv.Message += OnMessage;
    }

    public JobKeys Keys { get; }

    public KvDescription Description => _kv.Description;

    /// <inheritdoc cref="IKvBackend.PrefersLargeCalls"/>
    public bool PrefersLargeCalls => _kv.PrefersLargeCalls;

    /// <summary>Settings of the store's server that can lose jobs (see <see cref="IKvBackend.SettingsWarningsAsync"/>).</summary>
    public Task<IReadOnlyList<KvSettingWarning>> SettingsWarningsAsync() => _kv.SettingsWarningsAsync();

    /// <summary>
    /// The layout new jobs are stored in, and claims and outcomes write (see <see cref="LayoutVersion"/>); this version
    /// reads all four. Set at start to the newest when the engine is exclusive to this process (the embedded engine);
    /// on Redis, by the dispatcher on each lease renewal: the oldest layout that a silo in membership, not dead, has
    /// reported that it reads (see <see cref="SiloStats.StoreLayout"/>, <see cref="ClusterLayout"/>).
    /// </summary>
    public int Layout
    {
        get => Volatile.Read(ref _layout);
        set => Volatile.Write(ref _layout, Math.Clamp(value, 1, LayoutVersion));
    }

    /// <summary>
    /// Whether new jobs are stored in the compact layout (layout 2: <see cref="JobDefinition"/> in one field, no id
    /// field), which silos of version 0.3 and earlier cannot read.
    /// </summary>
    public bool CompactLayout => Layout >= 2;

    /// <summary>
    /// Whether the store writes layout 3 (0.4.2): no <c>all</c> index at insert (a listing without a state reads the
    /// index of each state; see <see cref="JobListing"/>), and no <c>since</c> at claim (a running job's time is
    /// <c>started</c>). Silos of 0.4.1 and earlier list from that index, and read a running job's <c>since</c>.
    /// </summary>
    public bool LeanLayout => Layout >= 3;

    /// <summary>
    /// Whether a success is stored in layout 4 (0.4.3): no <c>ok</c> field. The successful attempt is read from the fields
    /// its claim and its success wrote (<c>att</c>, <c>started</c>, <c>owner</c>, <c>fin</c>), which stay as they are:
    /// Succeeded is final. Silos of 0.4.2 and earlier read a success's attempt only from <c>ok</c>.
    /// </summary>
    public bool BareSuccessLayout => Layout >= 4;

    /// <summary>The KV engine under the store (for tests and benchmarks that read its keys directly).</summary>
    internal IKvBackend Backend => _kv;

    public int Shards => Keys.Shards;

    /// <summary>Raised (on any thread) when jobs of a queue became ready.</summary>
    public event Action<string>? JobsReady;

    /// <summary>Raised (on any thread) when cancellation of a running job was requested: owner, job id.</summary>
    public event Action<string, string>? CancelRequested;

    /// <summary>Raised (on any thread) when a queue's settings changed.</summary>
    public event Action<string>? SettingsChanged;

    public Task PingAsync(CancellationToken cancellationToken) => _kv.PingAsync(cancellationToken);

    /// <summary>The store's own clock: for Redis, <c>TIME</c> on the node of the queues' hash (one node for every silo); for the embedded engine, this process'.</summary>
    public Task<DateTimeOffset> ClockAsync() => _kv.ClockAsync(Keys.Queues);

    public ValueTask DisposeAsync()
    {
        _kv.Message -= OnMessage;
        return _kv.DisposeAsync();
    }

    // ---------------------------------------------------------------- writes

    /// <summary>
    /// Stores new jobs; an id that exists is left as it is and reported with Created = false; a job whose
    /// <see cref="NewJob.NotAfter"/> has passed by the engine's clock is not stored and reported as null.
    /// </summary>
    public async Task<EnqueueResult?[]> InsertAsync(IReadOnlyList<NewJob> jobs)
    {
        await RegisterQueuesAsync(jobs.Select(j => j.Queue));
        var results = new EnqueueResult?[jobs.Count];
        await ForEachShardAsync(jobs.Count, i => Keys.ShardOf(jobs[i].Id), async (shard, indexes) =>
        {
            var units = new List<KvUnit>(indexes.Count + 1);
            var ready = new HashSet<string>(StringComparer.Ordinal);
            var dependencies = new List<KvUnit>();
            foreach (var i in indexes)
            {
                units.Add(InsertUnit(shard, jobs[i], ready, dependencyUnits: dependencies));
            }

            units.AddRange(dependencies);

            foreach (var queue in ready)
            {
                units.Add(new KvUnit().Publish(_kv.Channel, "r|" + queue));
            }

            var applied = await _kv.ApplyAsync(units);
            for (var k = 0; k < indexes.Count; k++)
            {
                var job = jobs[indexes[k]];
                var r = applied[k];
                var expiredGuard = job.NotAfter is null ? 0 : 1;
                var uniqueGuard = job.UniqueKey is null ? 0 : expiredGuard + 1;
                if (r.IsApplied)
                {
                    results[indexes[k]] = new EnqueueResult(job.Id, job.DependsOn.Count > 0 ? JobState.Waiting : job.RunAt is null ? JobState.Queued : JobState.Scheduled, Created: true);
                }
                else if (r.FailedGuard == expiredGuard)
                {
                    results[indexes[k]] = null;
                }
                else if (r.FailedGuard == uniqueGuard)
                {
                    // Another job holds the unique key: that job is the answer.
                    var split = r.Value.LastIndexOf('|');
                    results[indexes[k]] = new EnqueueResult(r.Value[..split], ParseState(r.Value[(split + 1)..]), Created: false);
                }
                else
                {
                    results[indexes[k]] = new EnqueueResult(job.Id, ParseState(r.Value), Created: false);
                }
            }
        });
        return results;
    }

    /// <param name="shard">The job's shard.</param>
    /// <param name="job">The job.</param>
    /// <param name="ready">Collects the queues that get a ready job (to notify).</param>
    /// <param name="preconditions">Guards of the caller's, checked before the job's own (a schedule's token; a batch still open and unchanged).</param>
    /// <param name="dependencyUnits">Collects the units that register a job with its dependencies (to apply after the inserts, in the same call).</param>
    private KvUnit InsertUnit(int shard, NewJob job, HashSet<string> ready, IReadOnlyList<(string Key, string Field, string Value)>? preconditions = null, List<KvUnit>? dependencyUnits = null)
    {
        var key = Keys.JobPrefix(shard) + job.Id;
        var unit = new KvUnit();
        foreach (var (k, field, value) in preconditions ?? [])
        {
            unit.FieldEquals(k, field, value);
        }

        if (job.NotAfter is { } notAfter)
        {
            unit.ClockAtMost(notAfter.ToUnixTimeMilliseconds());
        }

        if (job.UniqueKey is { } uniqueKey)
        {
            unit.UniqueFree(Keys.Unique(shard), uniqueKey, Keys.JobPrefix(shard), job.CreatedAt.ToUnixTimeMilliseconds());
        }

        // Dependencies are not guarded here: the submission checked they exist, and one deleted since is found when
        // the job is settled (it then ends Cancelled, naming it), so a submission is never half stored.
        unit.KeyAbsent(key, JobFields.State);

        var seq = job.Seq;
        var state = job.DependsOn.Count > 0 ? JobState.Waiting : job.RunAt is null ? JobState.Queued : JobState.Scheduled;
        var definition = new JobDefinition(job.Type, job.Queue, job.Priority, seq, job.MaxAttempts, job.MaxInterruptions,
            (long)job.Timeout.TotalMilliseconds, job.CreatedAt.ToUnixTimeMilliseconds());
        // Not stored until they differ from what an absent field reads as (see ToSnapshot, ToView and the claim): since
        // (created), attempt and interruptions (0); Redis' cost per job is mostly per argument. For the same reason the
        // compact layout keeps the definition in one field and reads the id from the key; until every silo reads that
        // layout (CompactLayout), a job is stored as earlier versions store it, with the id, which is how they tell
        // that a job exists.
        var fields = new List<string>(CompactLayout ? 16 : 30);
        if (CompactLayout)
        {
            fields.AddRange([JobFields.Definition, definition.Format()]);
        }
        else
        {
            fields.AddRange([JobFields.Id, job.Id]);
            fields.AddRange(definition.LegacyFields());
        }

        var token = Tokens.Text(Tokens.Next());
        fields.AddRange([JobFields.State, state.ToString(), JobFields.Token, token]);
        if (job.Payload is not null)
        {
            fields.Add(JobFields.Payload);
            fields.Add(job.Payload);
        }

        if (job.TraceParent is not null)
        {
            fields.Add(JobFields.TraceParent);
            fields.Add(job.TraceParent);
        }

        if (job.RunAt is { } runAt)
        {
            fields.Add(JobFields.RunAt);
            fields.Add(Ms(runAt));
        }

        if (job.UniqueKey is { } unique)
        {
            fields.Add(JobFields.UniqueKey);
            fields.Add(unique);
            fields.Add(JobFields.UniqueFor);
            fields.Add(Num((long)job.UniqueFor.TotalMilliseconds));
            unit.HashSet(Keys.Unique(shard), unique, job.Id);
        }

        if (job.ScheduleId is { } schedule)
        {
            fields.Add(JobFields.ScheduleId);
            fields.Add(schedule);
        }

        if (job.BatchId is { } batch)
        {
            fields.Add(JobFields.BatchId);
            fields.Add(batch);
        }

        if (job.DependsOn.Count > 0)
        {
            fields.Add(JobFields.DependsOn);
            fields.Add(System.Text.Json.JsonSerializer.Serialize(job.DependsOn, JobContext.JsonOptions));
            if (job.ContinueOnDependencyFailure)
            {
                fields.Add(JobFields.ContinueOnFailure);
                fields.Add("1");
            }
        }

        unit.HashSet(key, [.. fields]);
        if (job.DependsOn.Count > 0)
        {
            unit.SortedSetAdd(Keys.Waiting(shard), job.CreatedAt.ToUnixTimeMilliseconds(), job.Id).SetAdd(Keys.Pending(shard, job.Id), [.. job.DependsOn]);
            if (dependencyUnits is null)
            {
                throw new InvalidOperationException("A job with dependencies is inserted with its dependency units.");
            }

            foreach (var dependency in job.DependsOn)
            {
                // Its own unit, only if the dependency exists (a deleted one must not come back as a stub) and this very
                // insert stored the job (its token: a job of that id stored before, which the insert left alone, has
                // dependencies of its own, and must not be settled by this one's end).
                var dependencyKey = Keys.JobPrefix(shard) + dependency;
                dependencyUnits.Add(new KvUnit().FieldNotEquals(dependencyKey, JobFields.State, "").FieldEquals(key, JobFields.Token, token)
                    .SetAdd(Keys.Dependents(shard, dependency), job.Id).HashSet(dependencyKey, JobFields.HasDependents, "1"));
            }
        }
        else if (job.RunAt is { } due)
        {
            unit.SortedSetAdd(Keys.Scheduled(shard), due.ToUnixTimeMilliseconds(), job.Id);
        }
        else
        {
            unit.SortedSetAdd(Keys.Ready(shard, job.Queue), JobKeys.ReadyScore(job.Priority), JobKeys.ReadyMember(seq, job.Id));
            ready.Add(job.Queue);
        }

        if (!LeanLayout)
        {
            // Read by 0.4.1 and earlier to list jobs without a state; this version lists those from each state's index.
            unit.SortedSetAdd(Keys.All(shard), job.CreatedAt.ToUnixTimeMilliseconds(), job.Id);
        }

        return unit;
    }

    /// <summary>
    /// Claims up to <paramref name="max"/> ready jobs of one shard for <paramref name="owner"/>, queue by queue (each
    /// at most its own max), and forgets the finished ids of that shard's run set. Revoked owners get nothing.
    /// </summary>
    public async Task<ClaimOutcome> ClaimAsync(int shard, string owner, int max, IReadOnlyList<(string Queue, int Max)> queues, DateTimeOffset now, DateTimeOffset leaseUntil, IReadOnlyList<string> finished)
    {
        var claim = new KvClaim(
            Keys.JobPrefix(shard), Keys.Owners(shard), Keys.Run(shard, owner), Keys.Revoked(shard), Keys.Paused(shard), owner,
            now.ToUnixTimeMilliseconds(), leaseUntil.ToUnixTimeMilliseconds(), Tokens.Next(), max,
            queues.Select(q => new KvClaimQueue(q.Queue, Keys.Ready(shard, q.Queue), q.Max)).ToList(), finished, WriteSince: !LeanLayout);
        var result = await _kv.ClaimAsync(claim, JobFields.Claimed);
        if (result.Revoked)
        {
            return ClaimOutcome.RevokedOwner;
        }

        var definitions = await DefinitionsAsync(result.Jobs.Count, i => result.Jobs[i].Id, i => result.Jobs[i].Fields[1] ?? "");
        var attempts = new ClaimedAttempt[result.Jobs.Count];
        for (var i = 0; i < attempts.Length; i++)
        {
            var j = result.Jobs[i];
            var f = j.Fields; // attempt, then JobFields.Claimed
            var d = definitions[i];
            attempts[i] = new ClaimedAttempt
            {
                JobId = j.Id,
                Queue = j.Queue,
                ClaimToken = j.Token,
                Attempt = Int(f[0]),
                Type = d.Type,
                Payload = NullIfEmpty(f[2]),
                MaxAttempts = d.MaxAttempts,
                MaxInterruptions = d.MaxInterruptions,
                Timeout = TimeSpan.FromMilliseconds(d.TimeoutMs),
                EnqueuedAt = FromMs(f[3] is { Length: > 0 } since ? Long(since) : d.CreatedMs),
                TraceParent = NullIfEmpty(f[4]),
                Priority = d.Priority,
                Seq = d.Seq,
                Interruptions = Int(f[5]),
                CreatedAt = FromMs(d.CreatedMs),
                BatchId = NullIfEmpty(f[6]),
                HasDependents = f[7] == "1",
                Owner = owner,
                StartedAt = now,
            };
        }

        return new ClaimOutcome(false, attempts);
    }

    /// <summary>Applies decided transitions, each only if its job still has the token it was decided on.</summary>
    public async Task<ApplyOutcome[]> ApplyAsync(IReadOnlyList<JobTransition> transitions)
    {
        var outcomes = new ApplyOutcome[transitions.Count];
        await ForEachShardAsync(transitions.Count, i => Keys.ShardOf(transitions[i].Job.Id), async (shard, indexes) =>
        {
            var units = indexes.Select(i => TransitionUnit(shard, transitions[i])).ToList();
            var applied = await _kv.ApplyAsync(units);
            for (var k = 0; k < indexes.Count; k++)
            {
                var t = transitions[indexes[k]];
                outcomes[indexes[k]] = applied[k].IsApplied ? ApplyOutcome.Applied
                    : applied[k].FailedGuard == 2 && t.HonorCancel ? ApplyOutcome.CancelRequested
                    : applied[k].FailedGuard == 2 && TakesUniqueKey(t) ? ApplyOutcome.UniqueKeyTaken
                    : ApplyOutcome.Stale;
            }
        });
        return outcomes;
    }

    /// <summary>
    /// A finished job that runs again (a requeue) with a unique key takes the key back, if no other job took it meanwhile:
    /// else two pending jobs would hold one key. Its guard is the unit's second (a requeue honours no cancel flag).
    /// </summary>
    private static bool TakesUniqueKey(JobTransition t) => t.Reset && !t.HonorCancel && t.Job.UniqueKey is not null;

    private KvUnit TransitionUnit(int shard, JobTransition t)
    {
        var job = t.Job;
        var key = Keys.JobPrefix(shard) + job.Id;
        var unit = new KvUnit().FieldEquals(key, JobFields.Token, Tokens.Text(job.Token));
        if (t.HonorCancel)
        {
            unit.FieldNotEquals(key, JobFields.Cancel, "1");
        }

        if (TakesUniqueKey(t))
        {
            unit.UniqueFree(Keys.Unique(shard), job.UniqueKey!, Keys.JobPrefix(shard), t.Now.ToUnixTimeMilliseconds(), self: job.Id)
                .HashSet(Keys.Unique(shard), job.UniqueKey!, job.Id);
        }

        var now = Ms(t.Now);
        switch (t.Kind)
        {
            case TransitionKind.CancelFlag:
                unit.HashSet(key, JobFields.Cancel, "1");
                if (job.Owner is { } owner)
                {
                    // Addressed to the attempt, not the job: a cancellation that is read late (the owner also polls the
                    // set) must not cancel a later attempt of the same job on the same silo (a retry right after it).
                    var attemptKey = ClaimedAttempt.KeyOf(job.Id, job.Token);
                    unit.SetAdd(Keys.Cancels(shard, owner), attemptKey).Publish(_kv.Channel, $"c|{owner}|{attemptKey}");
                }

                return unit;

            case TransitionKind.Delete:
                unit.Delete(key).SortedSetRemove(Keys.All(shard), job.Id).Delete(Keys.Dependents(shard, job.Id)).Delete(Keys.Pending(shard, job.Id));
                if (job.State.IsFinished())
                {
                    unit.SortedSetRemove(Keys.Finished(shard, job.State, job.Queue), job.Id);
                }

                return unit;

            default:
                break;
        }

        // A finished job's `since` is never read (its time is `fin`), and its `owner` only while it runs: the transition
        // that ends a job writes neither (4 of a success's 16 arguments: ≈ 1.7 µs of Redis per job), and leaving a
        // finished state clears the owner the attempt left.
        var ends = t.To.IsFinished();
        var fields = new List<string>(24) { JobFields.State, t.To.ToString(), JobFields.Token, Tokens.Text(Tokens.Next()) };
        if (!ends)
        {
            fields.Add(JobFields.Since);
            fields.Add(now);
        }

        var delete = new List<string>(4);

        // Leave the old state's index.
        switch (job.State)
        {
            case JobState.Queued:
                unit.SortedSetRemove(Keys.Ready(shard, job.Queue), JobKeys.ReadyMember(job.Seq, job.Id));
                break;
            case JobState.Scheduled:
                unit.SortedSetRemove(Keys.Scheduled(shard), job.Id);
                break;
            case JobState.Waiting:
                unit.SortedSetRemove(Keys.Waiting(shard), job.Id).Delete(Keys.Pending(shard, job.Id));
                break;
            case JobState.Running:
                // The owner's run set is cleaned lazily by the owner (with its next claim or lease renewal).
                if (!ends)
                {
                    delete.Add(JobFields.Owner);
                }

                break;
            default:
                unit.SortedSetRemove(Keys.Finished(shard, job.State, job.Queue), job.Id);
                delete.Add(JobFields.Finished);
                delete.Add(JobFields.Owner);
                break;
        }

        // Enter the new one.
        switch (t.To)
        {
            case JobState.Queued:
                unit.SortedSetAdd(Keys.Ready(shard, job.Queue), JobKeys.ReadyScore(job.Priority), JobKeys.ReadyMember(job.Seq, job.Id))
                    .Publish(_kv.Channel, "r|" + job.Queue);
                break;
            case JobState.Scheduled:
                var due = t.RunAt ?? t.Now;
                unit.SortedSetAdd(Keys.Scheduled(shard), due.ToUnixTimeMilliseconds(), job.Id);
                fields.Add(JobFields.RunAt);
                fields.Add(Ms(due));
                break;
            case JobState.Waiting:
                // A requeued dependent waits for every dependency again; the engine settles it right after, and the sweep
                // if that is lost (its dependencies' dependent sets still name it: they go only with a deleted job).
                unit.SortedSetAdd(Keys.Waiting(shard), t.Now.ToUnixTimeMilliseconds(), job.Id).SetAdd(Keys.Pending(shard, job.Id), [.. job.DependsOn]);
                break;
            case JobState.Succeeded or JobState.DeadLettered or JobState.Cancelled:
                unit.SortedSetAdd(Keys.Finished(shard, t.To, job.Queue), t.Now.ToUnixTimeMilliseconds(), job.Id);
                fields.Add(JobFields.Finished);
                fields.Add(now);
                delete.Remove(JobFields.Finished);
                break;
            default:
                throw new InvalidOperationException($"A transition cannot move a job to {t.To}.");
        }

        if (job.BatchId is { } batch)
        {
            if (job.State.IsFinished() && !ends)
            {
                // A finished member runs again (requeued): a close decided on counts read before this must not apply.
                unit.HashIncrement(Keys.Batch(shard, batch), BatchGeneration, 1);
            }

            // A batch counts its finished members by outcome, in the same step as the outcome itself.
            foreach (var final in FinishedStates)
            {
                if (final == t.To)
                {
                    unit.SetAdd(Keys.BatchMembers(shard, batch, final), job.Id);
                }
                else if (job.State == final || ends)
                {
                    unit.SetRemove(Keys.BatchMembers(shard, batch, final), job.Id);
                }
            }
        }

        if (t.Attempt is { } attempt)
        {
            fields.Add(JobFields.Attempt);
            fields.Add(Num(attempt));
        }

        if (t.Interruptions is { } interruptions)
        {
            fields.Add(JobFields.Interruptions);
            fields.Add(Num(interruptions));
        }

        if (t.InterruptedToken is { } interrupted)
        {
            fields.Add(JobFields.LastInterruptedToken);
            fields.Add(Tokens.Text(interrupted));
        }

        if (t.Result is not null)
        {
            fields.Add(JobFields.Result);
            fields.Add(t.Result);
        }

        if (t.Error is { } error)
        {
            // The job's last error: type and message (the stack trace stays in the attempt's record).
            fields.Add(JobFields.ErrorType);
            fields.Add(error.Type);
            fields.Add(JobFields.ErrorMessage);
            fields.Add(error.Message);
        }

        if (t.Reset)
        {
            delete.Add(JobFields.Cancel);
            delete.Add(JobFields.Result);
            delete.Add(JobFields.Finished);
            // Its interruptions start again from 0: a refund of one from before may no longer take one off.
            delete.Add(JobFields.LastInterruptedToken);
        }

        // Cleared fields are set empty (read as absent) rather than deleted: one HSET per transition.
        foreach (var cleared in delete.Distinct())
        {
            if (!Enumerable.Range(0, fields.Count / 2).Any(i => fields[i * 2] == cleared))
            {
                fields.Add(cleared);
                fields.Add("");
            }
        }

        var record = t.Record;
        if (record is { Outcome: AttemptOutcome.Succeeded, Error: null } && t.To == JobState.Succeeded)
        {
            // The last attempt of a job that is done: never a history append. Layout 4 stores nothing more (the view reads
            // it from att, started, owner and fin: see ToView); earlier layouts a compact field (see SerializeSucceeded).
            if (!BareSuccessLayout)
            {
                fields.Add(JobFields.Succeeded);
                fields.Add(StoredAttempt.SerializeSucceeded(record));
            }

            record = null;
        }

        unit.HashSet(key, [.. fields]);
        if (record is not null)
        {
            unit.HashAppend(key, JobFields.History, StoredAttempt.Serialize(record));
        }

        return unit;
    }

    /// <summary>Stores a running attempt's progress (only while it still holds the job).</summary>
    public async Task<bool> ReportProgressAsync(string jobId, long token, JobProgress progress)
    {
        var key = Keys.Job(jobId);
        var unit = new KvUnit().FieldEquals(key, JobFields.Token, Tokens.Text(token))
            .HashSet(key, JobFields.Progress, Num(progress.Percent), JobFields.ProgressMessage, progress.Message ?? "");
        return (await _kv.ApplyAsync([unit]))[0].IsApplied;
    }

    /// <summary>Gives back an interruption that a silo proved was not the job's fault (it was cut off, not dead).</summary>
    public async Task<int> RefundInterruptionsAsync(IReadOnlyList<(string JobId, long Token)> attempts)
    {
        var done = 0;
        await ForEachShardAsync(attempts.Count, i => Keys.ShardOf(attempts[i].JobId), async (shard, indexes) =>
        {
            var units = indexes.Select(i =>
            {
                var key = Keys.JobPrefix(shard) + attempts[i].JobId;
                return new KvUnit().FieldEquals(key, JobFields.LastInterruptedToken, Tokens.Text(attempts[i].Token))
                    .HashIncrement(key, JobFields.Interruptions, -1).HashDelete(key, JobFields.LastInterruptedToken);
            }).ToList();
            var applied = await _kv.ApplyAsync(units);
            Interlocked.Add(ref done, applied.Count(r => r.IsApplied));
        });
        return done;
    }

    // ---------------------------------------------------------------- owners and leases

    /// <summary>
    /// Renews <paramref name="owner"/>'s lease in every shard and forgets finished ids; returns the shards where the
    /// owner was revoked (its jobs there were, or are being, requeued by another silo).
    /// </summary>
    public async Task<IReadOnlyList<int>> RenewAsync(string owner, DateTimeOffset leaseUntil, IReadOnlyDictionary<int, List<string>> finished)
    {
        var revoked = new List<int>();
        await Task.WhenAll(Enumerable.Range(0, Shards).Select(async shard =>
        {
            var unit = new KvUnit().MemberAbsent(Keys.Revoked(shard), owner)
                .SortedSetAdd(Keys.Owners(shard), leaseUntil.ToUnixTimeMilliseconds(), owner);
            if (finished.TryGetValue(shard, out var ids))
            {
                unit.RunSetForget(Keys.Run(shard, owner), Keys.JobPrefix(shard), owner, ids);
            }

            if (!(await _kv.ApplyAsync([unit]))[0].IsApplied)
            {
                lock (revoked)
                {
                    revoked.Add(shard);
                }
            }
        }));
        return revoked;
    }

    /// <summary>Reads and clears the cancellations addressed to <paramref name="owner"/>.</summary>
    public async Task<IReadOnlyList<string>> TakeCancellationsAsync(string owner)
    {
        var batch = _kv.CreateReadBatch();
        var reads = Enumerable.Range(0, Shards).Select(s => batch.SetMembers(Keys.Cancels(s, owner))).ToList();
        await batch.ExecuteAsync();
        var all = new List<string>();
        for (var s = 0; s < Shards; s++)
        {
            var ids = await reads[s];
            if (ids.Length > 0)
            {
                all.AddRange(ids);
                await _kv.ApplyAsync([new KvUnit().SetRemove(Keys.Cancels(s, owner), ids)]);
            }
        }

        return all;
    }

    /// <summary>Owners whose lease ended at or before <paramref name="now"/>, with the end of their lease.</summary>
    public async Task<IReadOnlyList<(ShardOwner Owner, DateTimeOffset LeaseEnd)>> ExpiredOwnersAsync(DateTimeOffset now)
    {
        var batch = _kv.CreateReadBatch();
        var reads = Enumerable.Range(0, Shards).Select(s => batch.RangeByScore(Keys.Owners(s), double.NegativeInfinity, now.ToUnixTimeMilliseconds(), false, 0, 1000)).ToList();
        await batch.ExecuteAsync();
        var result = new List<(ShardOwner, DateTimeOffset)>();
        for (var s = 0; s < Shards; s++)
        {
            result.AddRange((await reads[s]).Select(e => (new ShardOwner(s, e.Member), FromMs((long)e.Score))));
        }

        return result;
    }

    /// <summary>Every owner holding a lease, in any shard.</summary>
    public async Task<IReadOnlyList<ShardOwner>> OwnersAsync()
    {
        var batch = _kv.CreateReadBatch();
        var reads = Enumerable.Range(0, Shards).Select(s => batch.RangeByScore(Keys.Owners(s), double.NegativeInfinity, double.PositiveInfinity, false, 0, 100_000)).ToList();
        await batch.ExecuteAsync();
        var result = new List<ShardOwner>();
        for (var s = 0; s < Shards; s++)
        {
            result.AddRange((await reads[s]).Select(e => new ShardOwner(s, e.Member)));
        }

        return result;
    }

    /// <summary>
    /// Revokes an owner in a shard: it can renew and claim no more there. With <paramref name="leaseEndedBy"/>, only if
    /// its lease (still) ended by then — a renewal that came in meanwhile wins.
    /// </summary>
    public async Task<bool> RevokeAsync(ShardOwner owner, DateTimeOffset now, DateTimeOffset? leaseEndedBy)
    {
        var unit = new KvUnit();
        if (leaseEndedBy is { } end)
        {
            unit.ScoreAtMost(Keys.Owners(owner.Shard), owner.Owner, end.ToUnixTimeMilliseconds());
        }

        unit.SortedSetRemove(Keys.Owners(owner.Shard), owner.Owner)
            .SortedSetAdd(Keys.Revoked(owner.Shard), now.ToUnixTimeMilliseconds(), owner.Owner);
        return (await _kv.ApplyAsync([unit]))[0].IsApplied;
    }

    /// <summary>Every shard's revoked owners (the tombstones not yet forgotten).</summary>
    private async Task<List<ShardOwner>> RevokedAsync()
    {
        var batch = _kv.CreateReadBatch();
        var reads = Enumerable.Range(0, Shards).Select(s => batch.RangeByScore(Keys.Revoked(s), double.NegativeInfinity, double.PositiveInfinity, false, 0, 100_000)).ToList();
        await batch.ExecuteAsync();
        var owners = new List<ShardOwner>();
        for (var s = 0; s < Shards; s++)
        {
            owners.AddRange((await reads[s]).Select(e => new ShardOwner(s, e.Member)));
        }

        return owners;
    }

    /// <summary>Revoked owners whose run sets still hold jobs (their recovery is not finished).</summary>
    public async Task<IReadOnlyList<ShardOwner>> RevokedWithJobsAsync()
    {
        var owners = await RevokedAsync();
        var counts = _kv.CreateReadBatch();
        var sizes = owners.Select(o => counts.SetLength(Keys.Run(o.Shard, o.Owner))).ToList();
        await counts.ExecuteAsync();
        var pending = new List<ShardOwner>();
        for (var i = 0; i < owners.Count; i++)
        {
            if (await sizes[i] > 0)
            {
                pending.Add(owners[i]);
            }
        }

        return pending;
    }

    /// <summary>The jobs an owner still runs in a shard (state Running, owned by it).</summary>
    public async Task<IReadOnlyList<JobSnapshot>> OwnerJobsAsync(ShardOwner owner)
    {
        var batch = _kv.CreateReadBatch();
        var ids = batch.SetMembers(Keys.Run(owner.Shard, owner.Owner));
        await batch.ExecuteAsync();
        var jobs = await LoadAsync(await ids);
        return jobs.Where(j => j is { State: JobState.Running } && j.Owner == owner.Owner).Select(j => j!).ToList();
    }

    /// <summary>Forgets a revoked owner's run set and cancellations once its jobs were requeued.</summary>
    public async Task ForgetOwnerAsync(ShardOwner owner)
    {
        var unit = new KvUnit().Delete(Keys.Run(owner.Shard, owner.Owner)).Delete(Keys.Cancels(owner.Shard, owner.Owner));
        await _kv.ApplyAsync([unit]);
    }

    /// <summary>Drops revocation tombstones older than <paramref name="before"/> (their owners are long gone).</summary>
    public async Task ForgetRevokedAsync(DateTimeOffset before)
    {
        var batch = _kv.CreateReadBatch();
        var reads = Enumerable.Range(0, Shards).Select(s => batch.RangeByScore(Keys.Revoked(s), double.NegativeInfinity, before.ToUnixTimeMilliseconds(), false, 0, 1000)).ToList();
        await batch.ExecuteAsync();
        for (var s = 0; s < Shards; s++)
        {
            var old = await reads[s];
            if (old.Length > 0)
            {
                await _kv.ApplyAsync([new KvUnit().SortedSetRemove(Keys.Revoked(s), old.Select(o => o.Member).ToArray())]);
            }
        }
    }

    /// <summary>Stores this silo's report (what it runs, its capacity, its counters), read by <see cref="StatsAsync"/>.</summary>
    public Task ReportSiloAsync(SiloStats silo) =>
        _kv.ApplyAsync([new KvUnit().HashSet(Keys.Silos, silo.Address, System.Text.Json.JsonSerializer.Serialize(silo, JobContext.JsonOptions))]);

    /// <summary>
    /// The newest layout of the job store this version reads and writes, as <see cref="SiloStats.StoreLayout"/> names
    /// it: 1 (0.3 and earlier: a definition in eight fields and the id), 2 (0.4: the definition in one field), 3 (0.4.2:
    /// no <c>all</c> index, no <c>since</c> at claim), 4 (0.4.3: no <c>ok</c> field at success).
    /// </summary>
    public const int LayoutVersion = 4;

    /// <summary>
    /// The layout a cluster of <paramref name="silos"/> (by address) writes: the oldest any of them has reported that it
    /// reads. A silo that has not reported yet (just joined), or reports no layout (0.3 and earlier), counts as 1.
    /// </summary>
    public static int ClusterLayout(IReadOnlyCollection<string> silos, IReadOnlyList<SiloStats> reports)
    {
        var layouts = reports.ToDictionary(r => r.Address, r => r.StoreLayout, StringComparer.Ordinal);
        return silos.Count == 0 ? 1 : silos.Min(s => layouts.TryGetValue(s, out var layout) ? Math.Clamp(layout, 1, LayoutVersion) : 1);
    }

    /// <summary>Forgets silos that have not reported since <paramref name="before"/>.</summary>
    public async Task<IReadOnlyList<SiloStats>> SilosAsync(DateTimeOffset before)
    {
        var batch = _kv.CreateReadBatch();
        var all = batch.HashGetAll(Keys.Silos);
        await batch.ExecuteAsync();
        var live = new List<SiloStats>();
        var stale = new List<string>();
        foreach (var (address, json) in await all)
        {
            var silo = System.Text.Json.JsonSerializer.Deserialize<SiloStats>(json, JobContext.JsonOptions);
            if (silo is not null && silo.At >= before)
            {
                live.Add(silo);
            }
            else
            {
                stale.Add(address);
            }
        }

        if (stale.Count > 0)
        {
            await _kv.ApplyAsync([new KvUnit().HashDelete(Keys.Silos, [.. stale])]);
        }

        return live.OrderBy(s => s.Address, StringComparer.Ordinal).ToList();
    }

    /// <summary>Jobs by state, overall and per queue (Running per queue from the jobs owners hold), and the silos.</summary>
    public async Task<JobStats> StatsAsync(DateTimeOffset now)
    {
        var queues = await QueuesAsync();
        var batch = _kv.CreateReadBatch();
        var counts = new List<(string Queue, JobState State, Task<long> Count)>();
        var scheduled = new List<Task<long>>();
        var waiting = new List<Task<long>>();
        for (var s = 0; s < Shards; s++)
        {
            scheduled.Add(batch.SortedSetLength(Keys.Scheduled(s)));
            waiting.Add(batch.SortedSetLength(Keys.Waiting(s)));
            foreach (var q in queues)
            {
                counts.Add((q, JobState.Queued, batch.SortedSetLength(Keys.Ready(s, q))));
                foreach (var state in FinishedStates)
                {
                    counts.Add((q, state, batch.SortedSetLength(Keys.Finished(s, state, q))));
                }
            }
        }

        await batch.ExecuteAsync();
        var perQueue = queues.ToDictionary(q => q, _ => JobStates.All.ToDictionary(s => s, _ => 0L), StringComparer.Ordinal);
        foreach (var (queue, state, count) in counts)
        {
            perQueue[queue][state] += await count;
        }

        foreach (var running in await RunningAsync())
        {
            if (perQueue.TryGetValue(running.Queue, out var states))
            {
                states[JobState.Running]++;
            }
        }

        var totals = JobStates.All.ToDictionary(s => s, s => perQueue.Values.Sum(q => q[s]));
        totals[JobState.Scheduled] = (await Task.WhenAll(scheduled)).Sum();
        totals[JobState.Waiting] = (await Task.WhenAll(waiting)).Sum();
        return new JobStats
        {
            States = totals,
            Queues = queues.Select(q => new QueueStats { Name = q, States = perQueue[q] }).ToList(),
            Silos = await SilosAsync(now - TimeSpan.FromMinutes(1)),
            At = now,
        };
    }

    // ---------------------------------------------------------------- continuations

    /// <summary>The jobs that wait for <paramref name="id"/>.</summary>
    public async Task<string[]> DependentsAsync(string id)
    {
        var batch = _kv.CreateReadBatch();
        var members = batch.SetMembers(Keys.Dependents(Keys.ShardOf(id), id));
        await batch.ExecuteAsync();
        return await members;
    }

    /// <summary>What <paramref name="waiting"/> still waits for.</summary>
    public async Task<string[]> PendingAsync(string waiting)
    {
        var batch = _kv.CreateReadBatch();
        var members = batch.SetMembers(Keys.Pending(Keys.ShardOf(waiting), waiting));
        await batch.ExecuteAsync();
        return await members;
    }

    /// <summary>Drops finished <paramref name="dependencies"/> from what <paramref name="waiting"/> waits for; returns how many it still waits for.</summary>
    public async Task<long> DropDependenciesAsync(string waiting, IReadOnlyList<string> dependencies)
    {
        var shard = Keys.ShardOf(waiting);
        if (dependencies.Count > 0)
        {
            await _kv.ApplyAsync([new KvUnit().SetRemove(Keys.Pending(shard, waiting), [.. dependencies])]);
        }

        var batch = _kv.CreateReadBatch();
        var left = batch.SetLength(Keys.Pending(shard, waiting));
        await batch.ExecuteAsync();
        return await left;
    }

    /// <summary>Waiting jobs, oldest first, from rank <paramref name="start"/>, at most <paramref name="max"/> per shard.</summary>
    public async Task<IReadOnlyList<string>> WaitingAsync(long start, int max)
    {
        var batch = _kv.CreateReadBatch();
        var waiting = Enumerable.Range(0, Shards).Select(s => batch.RangeByRank(Keys.Waiting(s), start, max)).ToList();
        await batch.ExecuteAsync();
        var ids = new List<string>();
        foreach (var w in waiting)
        {
            ids.AddRange((await w).Select(e => e.Member));
        }

        return ids;
    }

    // ---------------------------------------------------------------- batches

    /// <summary>
    /// Stores a batch and its members in one step (the members share the batch's shard), or nothing. A batch id that
    /// exists is left as it is: Created = false and no member stored. Jobs = null when the call reached the store after
    /// its deadline. ExistingMember is the index of a member whose id a job has already (a batch counts every member it
    /// was given, so one that is not its own would keep it open for ever), <c>members.Count</c> when a job has the id of
    /// its completion (<see cref="BatchCompletionId"/>: it would never be submitted), else -1.
    /// </summary>
    public async Task<(bool Created, EnqueueResult?[]? Jobs, int ExistingMember)> InsertBatchAsync(string id, JobRequest? completion, IReadOnlyList<NewJob> members, DateTimeOffset now)
    {
        await RegisterQueuesAsync(members.Select(j => j.Queue));
        var shard = Keys.ShardOf(id);
        // Members are stored only with the batch record of this very call (its nonce): a batch id that exists already
        // gets no new members, whatever their ids.
        var nonce = Tokens.Text(Tokens.Next());
        var batchKey = Keys.Batch(shard, id);
        var record = new KvUnit();
        if (members.Count > 0 && members[0].NotAfter is { } notAfter)
        {
            record.ClockAtMost(notAfter.ToUnixTimeMilliseconds());
        }

        record.KeyAbsent(batchKey, "state");
        foreach (var member in members)
        {
            record.KeyAbsent(Keys.JobPrefix(shard) + member.Id, JobFields.State);
        }

        if (completion is not null)
        {
            record.KeyAbsent(Keys.JobPrefix(shard) + BatchCompletionId(id), JobFields.State);
        }

        record.HashSet(batchKey, "id", id, "total", Num(members.Count), "state", "open", "created", Ms(now), "nonce", nonce,
                "completion", completion is null ? "" : System.Text.Json.JsonSerializer.Serialize(completion, JobContext.JsonOptions))
            .SortedSetAdd(Keys.OpenBatches(shard), now.ToUnixTimeMilliseconds(), id);
        var units = new List<KvUnit>(members.Count + 2) { record };
        var ready = new HashSet<string>(StringComparer.Ordinal);
        var dependencies = new List<KvUnit>();
        units.AddRange(members.Select(job => InsertUnit(shard, job, ready, [(batchKey, "nonce", nonce)], dependencies)));
        units.AddRange(dependencies);
        units.AddRange(ready.Select(queue => new KvUnit().Publish(_kv.Channel, "r|" + queue)));
        var applied = await _kv.ApplyAsync(units);
        if (!applied[0].IsApplied)
        {
            // Expired (the clock guard), the batch id is taken, or a member's id: nothing of this call was stored.
            var clockGuards = members.Count > 0 && members[0].NotAfter is not null ? 1 : 0;
            var failed = applied[0].FailedGuard;
            return failed == clockGuards ? (false, null, -1)
                : failed == clockGuards + 1 ? (false, [], -1)
                : (false, [], failed - clockGuards - 2);
        }

        var results = new EnqueueResult?[members.Count];
        for (var i = 0; i < members.Count; i++)
        {
            var r = applied[i + 1];
            results[i] = r.IsApplied
                ? new EnqueueResult(members[i].Id, members[i].DependsOn.Count > 0 ? JobState.Waiting : members[i].RunAt is null ? JobState.Queued : JobState.Scheduled, true)
                : r.FailedGuard == (members[i].NotAfter is null ? 1 : 2) ? null
                : new EnqueueResult(members[i].Id, ParseState(r.Value), false);
        }

        return (true, results, -1);
    }

    /// <summary>The batch record's count of members that left a final state (see <see cref="CloseBatchAsync"/>).</summary>
    private const string BatchGeneration = "gen";

    /// <summary>
    /// A batch's record and its counts by outcome, or null. Generation is the record's count of members that left a
    /// final state, read before the counts: a close guarded by it applies only if none did since.
    /// </summary>
    public async Task<(BatchView View, JobRequest? Completion, bool Closed, string Generation)?> BatchAsync(string id)
    {
        var shard = Keys.ShardOf(id);
        var batch = _kv.CreateReadBatch();
        var record = batch.HashGetAll(Keys.Batch(shard, id));
        var counts = FinishedStates.Select(state => batch.SetLength(Keys.BatchMembers(shard, id, state))).ToList();
        await batch.ExecuteAsync();
        var f = await record;
        if (f.Count == 0)
        {
            return null;
        }

        var (succeeded, dead, cancelled) = ((int)await counts[0], (int)await counts[1], (int)await counts[2]);
        var completion = f.GetValueOrDefault("completion") is { Length: > 0 } json ? System.Text.Json.JsonSerializer.Deserialize<JobRequest>(json, JobContext.JsonOptions) : null;
        var total = Int(f.GetValueOrDefault("total"));
        return (new BatchView
        {
            Id = id,
            Total = total,
            Succeeded = succeeded,
            DeadLettered = dead,
            Cancelled = cancelled,
            Finished = succeeded + dead + cancelled >= total,
            CompletionJobId = completion is null ? null : BatchCompletionId(id),
            CreatedAt = FromMs(Long(f.GetValueOrDefault("created"))),
        }, completion, f.GetValueOrDefault("state") == "done", f.GetValueOrDefault(BatchGeneration) ?? "");
    }

    /// <summary>The end of every batch completion job's id (reserved: ordinary submissions may not use it).</summary>
    public const string BatchCompletionSuffix = "::complete";

    /// <summary>The id of a batch's completion job.</summary>
    public static string BatchCompletionId(string batchId) => batchId + BatchCompletionSuffix;

    /// <summary>
    /// Closes a finished batch and submits its completion job, in one step: Closed is false when it was closed already,
    /// or a member left a final state since <paramref name="generation"/> was read with the counts (a requeued member:
    /// the batch is not finished after all); CompletionStored is false when no completion was given, or a job has its id
    /// (the batch is closed all the same).
    /// </summary>
    public async Task<(bool Closed, bool CompletionStored)> CloseBatchAsync(string id, NewJob? completion, string generation)
    {
        var shard = Keys.ShardOf(id);
        var batchKey = Keys.Batch(shard, id);
        var units = new List<KvUnit>();
        var ready = new HashSet<string>(StringComparer.Ordinal);
        if (completion is not null)
        {
            await RegisterQueuesAsync([completion.Queue]);

            // Only while the batch is open: a completion job deleted after the batch closed is not submitted again.
            units.Add(InsertUnit(shard, completion, ready, [(batchKey, "state", "open"), (batchKey, BatchGeneration, generation)]));
        }

        units.Add(new KvUnit().FieldEquals(batchKey, "state", "open").FieldEquals(batchKey, BatchGeneration, generation)
            .HashSet(batchKey, "state", "done").SortedSetRemove(Keys.OpenBatches(shard), id));
        units.AddRange(ready.Select(queue => new KvUnit().Publish(_kv.Channel, "r|" + queue)));
        var applied = await _kv.ApplyAsync(units);
        if (completion is null)
        {
            return (applied[0].IsApplied, false);
        }

        if (applied[1].IsApplied && !applied[0].IsApplied)
        {
            // Closed, but a job had the completion's id: the batch no longer names that job as its completion.
            await _kv.ApplyAsync([new KvUnit().HashSet(Keys.Batch(shard, id), "completion", "")]);
        }

        return (applied[1].IsApplied, applied[0].IsApplied);
    }

    /// <summary>Batches still open, oldest first, from rank <paramref name="start"/>, at most <paramref name="max"/> per shard.</summary>
    public async Task<IReadOnlyList<string>> OpenBatchesAsync(long start, int max)
    {
        var batch = _kv.CreateReadBatch();
        var open = Enumerable.Range(0, Shards).Select(s => batch.RangeByRank(Keys.OpenBatches(s), start, max)).ToList();
        await batch.ExecuteAsync();
        var ids = new List<string>();
        foreach (var o in open)
        {
            ids.AddRange((await o).Select(e => e.Member));
        }

        return ids;
    }

    // ---------------------------------------------------------------- recurring jobs

    /// <summary>A stored schedule: its definition, next and last fire, last job, and token.</summary>
    internal sealed record StoredSchedule(ScheduleDefinition Definition, DateTimeOffset? Next, DateTimeOffset? Last, string? LastJobId, string Token, DateTimeOffset Created);

    public async Task<StoredSchedule?> ScheduleAsync(string id) => (await SchedulesAsync([id]))[0];

    public async Task<StoredSchedule?[]> SchedulesAsync(IReadOnlyList<string> ids)
    {
        var batch = _kv.CreateReadBatch();
        var reads = ids.Select(id => batch.HashGetAll(Keys.Schedule(Keys.ShardOf(id), id))).ToList();
        await batch.ExecuteAsync();
        var result = new StoredSchedule?[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            var f = await reads[i];
            if (f.Count == 0 || !f.TryGetValue("def", out var def))
            {
                continue;
            }

            DateTimeOffset? Time(string name) => f.GetValueOrDefault(name) is { Length: > 0 } v ? FromMs(Long(v)) : null;
            result[i] = new StoredSchedule(System.Text.Json.JsonSerializer.Deserialize<ScheduleDefinition>(def, JobContext.JsonOptions)!,
                Time("next"), Time("last"), NullIfEmpty(f.GetValueOrDefault("lastJob")), f.GetValueOrDefault("tok") ?? "", Time("created") ?? DateTimeOffset.UnixEpoch);
        }

        return result;
    }

    /// <summary>Every schedule id, in creation order.</summary>
    public async Task<IReadOnlyList<string>> ScheduleIdsAsync()
    {
        var batch = _kv.CreateReadBatch();
        var all = Enumerable.Range(0, Shards).Select(s => batch.RangeByRank(Keys.Schedules(s), 0, 100_000)).ToList();
        await batch.ExecuteAsync();
        var ids = new List<KvScored>();
        foreach (var a in all)
        {
            ids.AddRange(await a);
        }

        return ids.OrderBy(e => e.Score).ThenBy(e => e.Member, StringComparer.Ordinal).Select(e => e.Member).ToList();
    }

    /// <summary>Schedules due by <paramref name="now"/>, and when the next one is due.</summary>
    public async Task<(IReadOnlyList<string> Due, DateTimeOffset? Next)> DueSchedulesAsync(DateTimeOffset now, int max)
    {
        var batch = _kv.CreateReadBatch();
        var due = Enumerable.Range(0, Shards).Select(s => batch.RangeByScore(Keys.ScheduleDue(s), double.NegativeInfinity, now.ToUnixTimeMilliseconds(), false, 0, max)).ToList();
        var next = Enumerable.Range(0, Shards).Select(s => batch.RangeByRank(Keys.ScheduleDue(s), 0, 1)).ToList();
        await batch.ExecuteAsync();
        var ids = new List<string>();
        DateTimeOffset? earliest = null;
        for (var s = 0; s < Shards; s++)
        {
            ids.AddRange((await due[s]).Select(e => e.Member));
            if ((await next[s]) is [var first, ..])
            {
                var at = FromMs((long)first.Score);
                earliest = earliest is null || at < earliest ? at : earliest;
            }
        }

        return (ids, earliest);
    }

    /// <summary>
    /// Writes a schedule if it still has <paramref name="expectedToken"/> ("": it must not exist yet), with its next
    /// tick (null: not due, while paused or ended), optionally with a job submitted in the same step
    /// (<paramref name="job"/>, created only if its id is free) and the last fire. Returns whether the schedule changed
    /// and whether the job was created.
    /// </summary>
    public async Task<(bool Written, bool JobCreated)> WriteScheduleAsync(ScheduleDefinition definition, string expectedToken, DateTimeOffset? next,
        DateTimeOffset created, NewJob? job = null, DateTimeOffset? lastFire = null)
    {
        var shard = Keys.ShardOf(definition.Id);
        var key = Keys.Schedule(shard, definition.Id);
        var units = new List<KvUnit>();
        var ready = new HashSet<string>(StringComparer.Ordinal);
        if (job is not null)
        {
            await RegisterQueuesAsync([job.Queue]);

            // The tick's job only with the schedule as it was read: a silo that read it before another fired it submits nothing.
            units.Add(InsertUnit(shard, job, ready, [(key, "tok", expectedToken)]));
        }

        var unit = new KvUnit().FieldEquals(key, "tok", expectedToken);
        var fields = new List<string>
        {
            "def", System.Text.Json.JsonSerializer.Serialize(definition, JobContext.JsonOptions), "next", next is { } n ? Ms(n) : "", "tok", Tokens.Text(Tokens.Next()),
            "created", Ms(created),
        };
        if (lastFire is { } last && job is not null)
        {
            fields.AddRange(["last", Ms(last), "lastJob", job.Id]);
        }

        unit.HashSet(key, [.. fields]).SortedSetAdd(Keys.Schedules(shard), created.ToUnixTimeMilliseconds(), definition.Id);

        if (next is { } due)
        {
            unit.SortedSetAdd(Keys.ScheduleDue(shard), due.ToUnixTimeMilliseconds(), definition.Id);
        }
        else
        {
            unit.SortedSetRemove(Keys.ScheduleDue(shard), definition.Id);
        }

        units.Add(unit);
        units.AddRange(ready.Select(queue => new KvUnit().Publish(_kv.Channel, "r|" + queue)));
        var applied = await _kv.ApplyAsync(units);
        return (applied[job is null ? 0 : 1].IsApplied, job is not null && applied[0].IsApplied);
    }

    /// <summary>Deletes a schedule if it still has <paramref name="expectedToken"/>.</summary>
    public async Task<bool> DeleteScheduleAsync(string id, string expectedToken)
    {
        var shard = Keys.ShardOf(id);
        var unit = new KvUnit().FieldEquals(Keys.Schedule(shard, id), "tok", expectedToken)
            .Delete(Keys.Schedule(shard, id)).SortedSetRemove(Keys.ScheduleDue(shard), id).SortedSetRemove(Keys.Schedules(shard), id);
        return (await _kv.ApplyAsync([unit]))[0].IsApplied;
    }

    // ---------------------------------------------------------------- maintenance reads

    /// <summary>Scheduled jobs due by <paramref name="now"/> (at most <paramref name="max"/> per shard), and when the next one is due.</summary>
    public async Task<(IReadOnlyList<JobSnapshot> Due, DateTimeOffset? NextDue)> DueAsync(DateTimeOffset now, int max)
    {
        var batch = _kv.CreateReadBatch();
        var due = Enumerable.Range(0, Shards).Select(s => batch.RangeByScore(Keys.Scheduled(s), double.NegativeInfinity, now.ToUnixTimeMilliseconds(), false, 0, max)).ToList();
        var next = Enumerable.Range(0, Shards).Select(s => batch.RangeByRank(Keys.Scheduled(s), 0, 1)).ToList();
        await batch.ExecuteAsync();
        var ids = new List<string>();
        DateTimeOffset? nextDue = null;
        for (var s = 0; s < Shards; s++)
        {
            ids.AddRange((await due[s]).Select(e => e.Member));
            if ((await next[s]) is [var first, ..])
            {
                var at = FromMs((long)first.Score);
                nextDue = nextDue is null || at < nextDue ? at : nextDue;
            }
        }

        var jobs = await LoadAsync(ids);
        return (jobs.Where(j => j is { State: JobState.Scheduled }).Select(j => j!).ToList(), nextDue);
    }

    /// <summary>Deletes finished jobs older than their retention; returns how many.</summary>
    public async Task<int> PurgeAsync(DateTimeOffset now, RetentionPolicy retention, int max)
    {
        var queues = await QueuesAsync();
        var deleted = 0;
        for (var s = 0; s < Shards && deleted < max; s++)
        {
            foreach (var state in FinishedStates)
            {
                var cutoff = (now - retention.For(state)).ToUnixTimeMilliseconds();
                var batch = _kv.CreateReadBatch();
                var reads = queues.Select(q => (Queue: q, Old: batch.RangeByScore(Keys.Finished(s, state, q), double.NegativeInfinity, cutoff, false, 0, max))).ToList();
                var indexed = batch.SortedSetLength(Keys.All(s));
                await batch.ExecuteAsync();

                // Jobs stored in layouts 1 and 2 are in `all` too; in layout 3 nobody adds to it, so once it is empty
                // (or was never written) a purge leaves it alone.
                var unindex = !LeanLayout || await indexed > 0;
                var units = new List<KvUnit>();
                foreach (var (queue, old) in reads)
                {
                    foreach (var e in await old)
                    {
                        var key = Keys.JobPrefix(s) + e.Member;
                        var unit = new KvUnit().FieldEquals(key, JobFields.State, state.ToString())
                            .Delete(key).Delete(Keys.Dependents(s, e.Member)).SortedSetRemove(Keys.Finished(s, state, queue), e.Member);
                        units.Add(unindex ? unit.SortedSetRemove(Keys.All(s), e.Member) : unit);
                    }
                }

                if (units.Count > 0)
                {
                    deleted += (await _kv.ApplyAsync(units)).Count(r => r.IsApplied);
                }
            }
        }

        return deleted;
    }

    // ---------------------------------------------------------------- queues

    /// <summary>Every queue's settings (a queue with none has the defaults).</summary>
    public async Task<IReadOnlyDictionary<string, QueueSettings>> QueueSettingsAsync()
    {
        var batch = _kv.CreateReadBatch();
        var all = batch.HashGetAll(Keys.Queues);
        await batch.ExecuteAsync();
        var settings = new Dictionary<string, QueueSettings>(StringComparer.Ordinal);
        foreach (var (name, json) in await all)
        {
            _knownQueues.TryAdd(name, 0);
            settings[name] = ParseQueueSettings(json);
        }

        // What this process believes registered is what the store has: a registration it made, or heard of, may be gone
        // (a Redis restart that lost its last second). A queue forgotten here is registered again by its next insert.
        foreach (var name in _knownQueues.Keys)
        {
            if (!settings.ContainsKey(name))
            {
                _knownQueues.TryRemove(name, out _);
            }
        }

        return settings;
    }

    /// <summary>Every shard's set of paused queues, the sets the claim itself checks.</summary>
    public async Task<IReadOnlyList<string[]>> PausedSetsAsync()
    {
        var batch = _kv.CreateReadBatch();
        var reads = Enumerable.Range(0, Shards).Select(s => batch.SetMembers(Keys.Paused(s))).ToList();
        await batch.ExecuteAsync();
        var sets = new List<string[]>(Shards);
        foreach (var read in reads)
        {
            sets.Add(await read);
        }

        return sets;
    }

    /// <summary>
    /// Brings every shard's paused set in line with the queues' settings, when a pause or a resume reached the settings
    /// but not every shard (a shard's node down, a connection lost between the calls, or two silos pausing and resuming
    /// at once): otherwise a queue that every view shows running would stay paused in one shard for good.
    /// <paramref name="paused"/> must be read before <paramref name="settings"/>: settings are written first, so the
    /// settings are never older than the sets they are compared with. Returns how many sets it changed.
    /// </summary>
    public async Task<int> ReconcilePausedAsync(IReadOnlyDictionary<string, QueueSettings> settings, IReadOnlyList<string[]> paused)
    {
        var changed = 0;
        for (var s = 0; s < Shards && s < paused.Count; s++)
        {
            var have = paused[s].ToHashSet(StringComparer.Ordinal);
            var add = settings.Where(q => q.Value.Paused && !have.Contains(q.Key)).Select(q => q.Key).ToArray();
            var remove = have.Where(q => !(settings.TryGetValue(q, out var v) && v.Paused)).ToArray();
            if (add.Length + remove.Length > 0)
            {
                await _kv.ApplyAsync([new KvUnit().SetAdd(Keys.Paused(s), add).SetRemove(Keys.Paused(s), remove)]);
                changed++;
            }
        }

        return changed;
    }

    /// <summary>
    /// Changes a queue's settings: <paramref name="change"/> gets what is stored and returns the new settings, or null
    /// to leave them. The write applies only if the stored settings are still those it was given; if another writer
    /// changed them meanwhile (an operator's change, a silo ending a timed pause, a remote side's Retry-After), the
    /// change is made again on theirs, so neither is lost. The pause goes into every shard's paused set (checked by the
    /// claim itself) and every silo is told. Returns the settings stored when it is done, and whether this call wrote them.
    /// </summary>
    public async Task<(QueueSettings Settings, bool Changed)> UpdateQueueSettingsAsync(string queue, Func<QueueSettings, QueueSettings?> change)
    {
        const int Tries = 20;
        for (var attempt = 1; ; attempt++)
        {
            var batch = _kv.CreateReadBatch();
            var read = batch.HashGet(Keys.Queues, [queue]);
            await batch.ExecuteAsync();
            var stored = (await read)[0];
            var current = stored is null ? new QueueSettings() : ParseQueueSettings(stored);
            if (change(current) is not { } settings)
            {
                return (current, false);
            }

            var json = System.Text.Json.JsonSerializer.Serialize(settings, JobContext.JsonOptions);
            var written = await _kv.ApplyAsync([new KvUnit().FieldEquals(Keys.Queues, queue, stored ?? "").HashSet(Keys.Queues, queue, json)]);
            if (written[0].IsApplied)
            {
                await PublishQueueSettingsAsync(queue, settings);
                return (settings, true);
            }

            if (attempt == Tries)
            {
                // Answered as the store being unavailable (503, try again): something rewrites these settings in a loop.
                throw new TimeoutException($"The settings of queue '{queue}' changed under each of {Tries} attempts to change them.");
            }
        }
    }

    private static QueueSettings ParseQueueSettings(string json) =>
        System.Text.Json.JsonSerializer.Deserialize<QueueSettings>(json, JobContext.JsonOptions) ?? new QueueSettings();

    private async Task PublishQueueSettingsAsync(string queue, QueueSettings settings)
    {
        _knownQueues.TryAdd(queue, 0);
        await Task.WhenAll(Enumerable.Range(0, Shards).Select(s => _kv.ApplyAsync([settings.Paused ? new KvUnit().SetAdd(Keys.Paused(s), queue) : new KvUnit().SetRemove(Keys.Paused(s), queue)])));
        await _kv.ApplyAsync([new KvUnit().Publish(_kv.Channel, "s|" + queue)]);
    }

    /// <summary>Takes up to <paramref name="want"/> of a queue's concurrency permits for <paramref name="owner"/>.</summary>
    public Task<int> AcquirePermitsAsync(string queue, string owner, int want, int limit) => _kv.AcquirePermitsAsync(Keys.Permits(queue), owner, want, limit);

    /// <summary>Gives back permits (an attempt ended, or a claim took fewer jobs than it had permits for).</summary>
    public Task ReleasePermitsAsync(string queue, string owner, int count) =>
        count <= 0 ? Task.CompletedTask : _kv.ApplyAsync([new KvUnit().HashIncrement(Keys.Permits(queue), owner, -count)]);

    /// <summary>
    /// Forgets the concurrency permits in <paramref name="queues"/> of owner names that hold no lease on any shard. Such a
    /// name never runs anything again, but what it held stays counted until someone says so: a revoked one (recovery
    /// forgets the permits of an owner whose run set still has jobs, and nothing did for one revoked with none: an idle
    /// silo killed between taking and returning a claim's permits, or one that retired its name after a long outage and
    /// could not return them), one whose revocation was itself forgotten a day later (the queue had no limit meanwhile, so
    /// nobody looked), one that never held a lease. A silo writes its lease before it takes permits, and the holders are
    /// read here before the leases, so a live holder is always seen with its lease. A release that lands later makes
    /// its count negative, which counts as zero.
    /// </summary>
    public async Task<int> ForgetUnleasedPermitsAsync(IReadOnlyCollection<string> queues)
    {
        if (queues.Count == 0)
        {
            return 0;
        }

        var batch = _kv.CreateReadBatch();
        var holders = queues.Select(q => (Queue: q, Read: batch.HashGetAll(Keys.Permits(q)))).ToList();
        await batch.ExecuteAsync();
        var held = new List<(string Queue, ICollection<string> Owners)>();
        foreach (var (queue, read) in holders)
        {
            if ((await read).Keys is { Count: > 0 } owners)
            {
                held.Add((queue, owners));
            }
        }

        if (held.Count == 0)
        {
            return 0;
        }

        var leased = (await OwnersAsync()).Select(o => o.Owner).ToHashSet(StringComparer.Ordinal);
        var forgotten = 0;
        foreach (var (queue, owners) in held)
        {
            var stale = owners.Where(o => !leased.Contains(o)).ToArray();
            if (stale.Length > 0)
            {
                await _kv.ApplyAsync([new KvUnit().HashDelete(Keys.Permits(queue), stale)]);
                forgotten += stale.Length;
            }
        }

        return forgotten;
    }

    /// <summary>Sets what an owner holds to what it really runs (never less), or forgets a revoked owner's permits.</summary>
    public Task SetPermitsAsync(string queue, string owner, int count) =>
        _kv.ApplyAsync([count > 0 ? new KvUnit().HashSet(Keys.Permits(queue), owner, Num(count)) : new KvUnit().HashDelete(Keys.Permits(queue), owner)]);

    /// <summary>Records up to <paramref name="want"/> starts in a queue's rate window at <paramref name="now"/>.</summary>
    public Task<(int Granted, long NextMs)> AcquireStartsAsync(string queue, string grantName, int want, QueueRateLimit limit, DateTimeOffset now) =>
        _kv.AcquireWindowAsync(Keys.Window(queue), grantName, want, limit.Limit, now.ToUnixTimeMilliseconds(), (long)limit.Period.TotalMilliseconds);

    /// <summary>Takes back starts that were recorded but not used (entries <c>{grantName}:{from..to}</c>).</summary>
    public Task RefundStartsAsync(string queue, string grantName, int from, int to) =>
        from > to ? Task.CompletedTask : _kv.ApplyAsync([new KvUnit().SortedSetRemove(Keys.Window(queue), Enumerable.Range(from, to - from + 1).Select(i => $"{grantName}:{i}").ToArray())]);

    /// <summary>Every queue that ever held a job.</summary>
    public async Task<IReadOnlyList<string>> QueuesAsync()
    {
        var batch = _kv.CreateReadBatch();
        var all = batch.HashGetAll(Keys.Queues);
        await batch.ExecuteAsync();
        var names = (await all).Keys.Order(StringComparer.Ordinal).ToList();
        foreach (var name in names)
        {
            _knownQueues.TryAdd(name, 0);
        }

        return names;
    }

    private async Task RegisterQueuesAsync(IEnumerable<string> queues)
    {
        var fresh = queues.Where(q => !_knownQueues.ContainsKey(q)).Distinct(StringComparer.Ordinal).ToList();
        if (fresh.Count == 0)
        {
            return;
        }

        await _kv.ApplyAsync(fresh.Select(q => new KvUnit().FieldEquals(Keys.Queues, q, "").HashSet(Keys.Queues, q, "{}")).ToList());
        foreach (var q in fresh)
        {
            _knownQueues.TryAdd(q, 0);
        }
    }

    // ---------------------------------------------------------------- reads

    /// <summary>Snapshots of the given jobs (null where missing).</summary>
    public async Task<JobSnapshot?[]> LoadAsync(IReadOnlyList<string> ids)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        var batch = _kv.CreateReadBatch();
        var reads = ids.Select(id => batch.HashGet(Keys.Job(id), JobFields.Snapshot)).ToList();
        await batch.ExecuteAsync();
        var fields = new string?[ids.Count][];
        for (var i = 0; i < ids.Count; i++)
        {
            fields[i] = await reads[i];
        }

        // A missing job (no state) has no definition to read.
        var definitions = await DefinitionsAsync(ids.Count, i => ids[i], i => string.IsNullOrEmpty(fields[i][1]) ? null : fields[i][0] ?? "");
        var result = new JobSnapshot?[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            result[i] = ToSnapshot(ids[i], fields[i], definitions[i]);
        }

        return result;
    }

    /// <summary>
    /// The definitions of <paramref name="count"/> jobs from their <see cref="JobFields.Definition"/> field
    /// (<paramref name="stored"/>; null: no job, left default). Jobs an earlier version stored have it empty: their
    /// definition is read from its own fields (<see cref="JobFields.Legacy"/>) in one more batch.
    /// </summary>
    private async Task<JobDefinition[]> DefinitionsAsync(int count, Func<int, string> idOf, Func<int, string?> stored)
    {
        var definitions = new JobDefinition[count];
        List<int>? legacy = null;
        for (var i = 0; i < count; i++)
        {
            if (stored(i) is { } value && !JobDefinition.TryParse(value, out definitions[i]))
            {
                (legacy ??= []).Add(i);
            }
        }

        if (legacy is null)
        {
            return definitions;
        }

        var batch = _kv.CreateReadBatch();
        var reads = legacy.Select(i => batch.HashGet(Keys.Job(idOf(i)), JobFields.Legacy)).ToList();
        await batch.ExecuteAsync();
        for (var k = 0; k < legacy.Count; k++)
        {
            definitions[legacy[k]] = JobDefinition.FromLegacy(await reads[k]);
        }

        return definitions;
    }

    public async Task<JobSnapshot?> LoadAsync(string id) => (await LoadAsync([id]))[0];

    public async Task<JobView?> GetAsync(string id) => (await GetManyAsync([id]))[0];

    public async Task<JobView?[]> GetManyAsync(IReadOnlyList<string> ids)
    {
        var batch = _kv.CreateReadBatch();
        var reads = ids.Select(id => batch.HashGetAll(Keys.Job(id))).ToList();
        await batch.ExecuteAsync();
        var views = new JobView?[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            var fields = await reads[i];
            views[i] = fields.Count == 0 ? null : ToView(ids[i], fields);
        }

        return views;
    }

    /// <summary>How many jobs are in each state (Running counts the jobs owners still hold).</summary>
    public async Task<IReadOnlyDictionary<JobState, long>> CountByStateAsync()
    {
        var queues = await QueuesAsync();
        var batch = _kv.CreateReadBatch();
        var queued = new List<Task<long>>();
        var finished = new List<(JobState State, Task<long> Count)>();
        var scheduled = new List<Task<long>>();
        var waiting = new List<Task<long>>();
        for (var s = 0; s < Shards; s++)
        {
            scheduled.Add(batch.SortedSetLength(Keys.Scheduled(s)));
            waiting.Add(batch.SortedSetLength(Keys.Waiting(s)));
            foreach (var q in queues)
            {
                queued.Add(batch.SortedSetLength(Keys.Ready(s, q)));
                foreach (var state in FinishedStates)
                {
                    finished.Add((state, batch.SortedSetLength(Keys.Finished(s, state, q))));
                }
            }
        }

        await batch.ExecuteAsync();
        var counts = JobStates.All.ToDictionary(s => s, _ => 0L);
        counts[JobState.Queued] = (await Task.WhenAll(queued)).Sum();
        counts[JobState.Scheduled] = (await Task.WhenAll(scheduled)).Sum();
        counts[JobState.Waiting] = (await Task.WhenAll(waiting)).Sum();
        foreach (var (state, count) in finished)
        {
            counts[state] += await count;
        }

        counts[JobState.Running] = (await RunningAsync()).Count;
        return counts;
    }

    /// <summary>How many jobs are Queued, over every queue and shard (one ZCARD each).</summary>
    public async Task<long> CountQueuedAsync()
    {
        var queues = await QueuesAsync();
        var batch = _kv.CreateReadBatch();
        var counts = Enumerable.Range(0, Shards).SelectMany(s => queues.Select(q => batch.SortedSetLength(Keys.Ready(s, q)))).ToList();
        await batch.ExecuteAsync();
        return (await Task.WhenAll(counts)).Sum();
    }

    /// <summary>Jobs Waiting for dependencies, and recurring jobs (schedules), cluster-wide.</summary>
    public async Task<(long Waiting, long Schedules)> CountWaitingAndSchedulesAsync()
    {
        var batch = _kv.CreateReadBatch();
        var waiting = Enumerable.Range(0, Shards).Select(s => batch.SortedSetLength(Keys.Waiting(s))).ToList();
        var schedules = Enumerable.Range(0, Shards).Select(s => batch.SortedSetLength(Keys.Schedules(s))).ToList();
        await batch.ExecuteAsync();
        return ((await Task.WhenAll(waiting)).Sum(), (await Task.WhenAll(schedules)).Sum());
    }

    /// <summary>Every job running now (owned by a live or revoked owner and still Running).</summary>
    public async Task<IReadOnlyList<JobSnapshot>> RunningAsync()
    {
        var owners = await OwnersAsync();
        var batch = _kv.CreateReadBatch();
        var sets = owners.Select(o => (o, batch.SetMembers(Keys.Run(o.Shard, o.Owner)))).ToList();
        await batch.ExecuteAsync();
        var pairs = new List<(string Owner, string Id)>();
        foreach (var (owner, members) in sets)
        {
            pairs.AddRange((await members).Select(id => (owner.Owner, id)));
        }

        var jobs = await LoadAsync(pairs.Select(p => p.Id).ToList());
        return jobs.Where((j, i) => j is { State: JobState.Running } && j.Owner == pairs[i].Owner).Select(j => j!).ToList();
    }

    /// <summary>One page of jobs; see <see cref="JobListing"/> for the order of each state.</summary>
    public Task<JobPage> ListAsync(JobListQuery query) => new JobListing(this, _kv).ListAsync(query);

    // ---------------------------------------------------------------- helpers

    private void OnMessage(string message)
    {
        var parts = message.Split('|');
        switch (parts[0])
        {
            case "r" when parts.Length == 2:
                // Not taken as registered: the store may lose the registration this message followed (see QueueSettingsAsync).
                JobsReady?.Invoke(parts[1]);
                break;
            case "c" when parts.Length == 3:
                CancelRequested?.Invoke(parts[1], parts[2]);
                break;
            case "s" when parts.Length == 2:
                SettingsChanged?.Invoke(parts[1]);
                break;
            default:
                break;
        }
    }

    /// <summary>Runs <paramref name="action"/> for each shard that has items, with the indexes of its items, in parallel.</summary>
    private Task ForEachShardAsync(int count, Func<int, int> shardOf, Func<int, List<int>, Task> action)
    {
        if (count == 0)
        {
            return Task.CompletedTask;
        }

        if (Shards == 1)
        {
            return action(0, Enumerable.Range(0, count).ToList());
        }

        var groups = new Dictionary<int, List<int>>();
        for (var i = 0; i < count; i++)
        {
            var shard = shardOf(i);
            if (!groups.TryGetValue(shard, out var list))
            {
                groups[shard] = list = [];
            }

            list.Add(i);
        }

        return Task.WhenAll(groups.Select(g => action(g.Key, g.Value)));
    }

    internal static JobSnapshot? ToSnapshot(string id, string?[] f, JobDefinition d)
    {
        // JobFields.Snapshot order. Every job has a state from its insert on.
        if (string.IsNullOrEmpty(f[1]))
        {
            return null;
        }

        // A running job's time is when its attempt started: the claim writes `started`, and `since` only in store
        // layouts 1 and 2 (with the same value), so in layout 3 a running job's `since` is the Queued state's.
        var state = ParseState(f[1]);
        var since = state == JobState.Running && f[13] is { Length: > 0 } started ? started : f[9];
        return new JobSnapshot(
            Id: id,
            Type: d.Type,
            Queue: d.Queue,
            Priority: d.Priority,
            Seq: d.Seq,
            State: state,
            Token: Long(f[2]),
            Attempt: Int(f[3]),
            MaxAttempts: d.MaxAttempts,
            Interruptions: Int(f[4]),
            MaxInterruptions: d.MaxInterruptions,
            Owner: NullIfEmpty(f[5]),
            CancelRequested: f[6] == "1",
            RunAt: f[7] is { Length: > 0 } r ? FromMs(Long(r)) : null,
            FinishedAt: f[8] is { Length: > 0 } fin ? FromMs(Long(fin)) : null,
            CreatedAt: FromMs(d.CreatedMs),
            Since: FromMs(since is { Length: > 0 } ? Long(since) : d.CreatedMs))
        {
            BatchId = NullIfEmpty(f[10]),
            HasDependents = f[11] == "1",
            ContinueOnDependencyFailure = f[12] == "1",
            DependsOn = f[14] is { Length: > 0 } deps ? System.Text.Json.JsonSerializer.Deserialize<string[]>(deps, JobContext.JsonOptions) ?? [] : [],
            UniqueKey = NullIfEmpty(f[15]),
        };
    }

    internal static JobView ToView(string id, Dictionary<string, string> f)
    {
        string? S(string name) => f.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        long? L(string name) => S(name) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : null;
        DateTimeOffset? T(string name) => L(name) is { } ms ? FromMs(ms) : null;

        var state = ParseState(S(JobFields.State));

        // Layout 4 stores a success's attempt in the fields its claim and its success wrote (Succeeded is final, so
        // they are the last attempt's); a success stored in layout 3 or earlier has it in `ok` instead.
        JobAttempt? SucceededAttempt() =>
            state == JobState.Succeeded && L(JobFields.Attempt) is > 0 and var number && T(JobFields.Started) is { } started
                ? new JobAttempt
                {
                    Number = (int)number,
                    StartedAt = started,
                    EndedAt = T(JobFields.Finished),
                    Silo = OwnerSilo(S(JobFields.Owner)),
                    Outcome = AttemptOutcome.Succeeded,
                }
                : null;

        var history = StoredAttempt.DeserializeList(S(JobFields.History));
        if (!JobDefinition.TryParse(S(JobFields.Definition), out var d))
        {
            d = JobDefinition.FromLegacy(JobFields.Legacy.Select(S).ToArray());
        }

        return new JobView
        {
            Id = id,
            Type = d.Type,
            Queue = d.Queue,
            Priority = d.Priority,
            State = state,
            Attempt = (int)(L(JobFields.Attempt) ?? 0),
            MaxAttempts = d.MaxAttempts,
            Interruptions = (int)(L(JobFields.Interruptions) ?? 0),
            MaxInterruptions = d.MaxInterruptions,
            Timeout = TimeSpan.FromMilliseconds(d.TimeoutMs),
            CreatedAt = FromMs(d.CreatedMs),
            RunAt = T(JobFields.RunAt),
            StartedAt = T(JobFields.Started),
            FinishedAt = state.IsFinished() ? T(JobFields.Finished) : null,
            Progress = state == JobState.Running && L(JobFields.Progress) is { } pct ? new JobProgress((int)pct, S(JobFields.ProgressMessage)) : null,
            Result = S(JobFields.Result),
            LastError = S(JobFields.ErrorType) is { } et ? new JobError(et, S(JobFields.ErrorMessage) ?? "") : null,
            TraceId = TraceContext.TraceIdOf(S(JobFields.TraceParent)),
            Payload = S(JobFields.Payload),
            Attempts = (StoredAttempt.DeserializeSucceeded(S(JobFields.Succeeded)) ?? SucceededAttempt()) is { } succeeded
                ? [.. history, succeeded]
                : history,
            CancelRequested = S(JobFields.Cancel) == "1",
            Silo = state == JobState.Running ? OwnerSilo(S(JobFields.Owner)) : null,
            ScheduleId = S(JobFields.ScheduleId),
            BatchId = S(JobFields.BatchId),
            DependsOn = S(JobFields.DependsOn) is { } deps ? System.Text.Json.JsonSerializer.Deserialize<string[]>(deps, JobContext.JsonOptions) ?? [] : [],
            UniqueKey = S(JobFields.UniqueKey),
        };
    }

    /// <summary>The silo part of an owner name (<c>silo address/epoch</c>).</summary>
    internal static string? OwnerSilo(string? owner)
    {
        if (owner is null)
        {
            return null;
        }

        var slash = owner.LastIndexOf('/');
        return slash > 0 ? owner[..slash] : owner;
    }

    internal static JobState ParseState(string? state) => Enum.Parse<JobState>(string.IsNullOrEmpty(state) ? nameof(JobState.Queued) : state);

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static int Int(string? value) => string.IsNullOrEmpty(value) ? 0 : int.Parse(value, CultureInfo.InvariantCulture);

    private static long Long(string? value) => string.IsNullOrEmpty(value) ? 0 : long.Parse(value, CultureInfo.InvariantCulture);

    private static string Num(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Ms(DateTimeOffset time) => Num(time.ToUnixTimeMilliseconds());

    internal static DateTimeOffset FromMs(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);
}
