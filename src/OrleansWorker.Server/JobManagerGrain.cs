using System.Diagnostics;
using Orleans.Concurrency;
using StackExchange.Redis;
using OrleansWorker.Execution;
using OrleansWorker.Handlers;
using OrleansWorker.Storage;

namespace OrleansWorker;

/// <summary>The engine's front door on every silo: submissions and queries, answered from the store.</summary>
[StatelessWorker]
[Reentrant]
[GrainType("ow-jobs")]
internal sealed class JobManagerGrain(JobEngine engine, JobHandlerRegistry handlers, RecurringJobs schedules) : Grain, IJobManagerGrain
{
    public async Task<EnqueueResponse> EnqueueAsync(IReadOnlyList<JobRequest> requests, DateTimeOffset? notAfter)
    {
        var errors = JobValidator.Validate(requests, engine.Options, handlers.Contains, handlers.Types, engine.Time.GetUtcNow(), NewId, out var jobs, engine.Store.Shards, engine.Store.Keys.ShardOf);
        if (errors.Count == 0)
        {
            errors = await Guard(UnknownDependenciesAsync(jobs));
        }

        if (errors.Count == 0 && requests.Any(r => r.Id?.EndsWith(JobStore.BatchCompletionSuffix, StringComparison.Ordinal) == true))
        {
            errors = await Guard(BatchCompletionIdsAsync(requests));
        }

        if (errors.Count > 0)
        {
            return new EnqueueResponse([], errors);
        }

        Stamp(jobs, notAfter);
        var stored = await Guard(engine.EnqueueAsync(jobs));
        if (stored.Any(r => r is null))
        {
            // One request shares one deadline. On one shard it is one atomic call: every job of it expired or none did.
            // A submission that spans shards is one call per shard, each judged by its own clock against the deadline.
            var kept = stored.Count(r => r is not null);
            throw new JobServiceUnavailableException(kept == 0
                ? $"The submission reached the store after its deadline ({notAfter:O}); nothing was stored."
                : $"Part of the submission reached the store after its deadline ({notAfter:O}): {kept} of {stored.Length} jobs were stored (its jobs span the store's shards, stored one shard at a time). Resubmitting it with the same ids stores the rest; the stored ones are found, not doubled.");
        }

        var results = stored.Select(r => r!).ToList();
        Submitted(jobs, results);
        return new EnqueueResponse(results, []);
    }

    public async Task<BatchResponse> EnqueueBatchAsync(BatchRequest batch, DateTimeOffset? notAfter)
    {
        var now = engine.Time.GetUtcNow();
        var id = batch.Id ?? NewId();
        var errors = new List<JobValidationError>();
        if (!IsBatchId(id))
        {
            errors.Add(new JobValidationError(-1, "id", "invalid_batch_id", $"The batch id '{id}' must be 1–{ScheduleRules.MaxIdLength} characters of [A-Za-z0-9._-], not dots alone."));
        }

        if (batch.Jobs is not { Count: >= 1 and <= MaxBatchSize })
        {
            errors.Add(new JobValidationError(-1, "jobs", "batch_size", $"A batch has 1–{MaxBatchSize} jobs (was {batch.Jobs?.Count ?? 0})."));
        }

        if (errors.Count > 0)
        {
            return new BatchResponse(null, [], errors);
        }

        // Members share the batch's shard: their ids are {batch}::{n}, or the caller's with that prefix.
        var requests = batch.Jobs!.Select((r, n) => r is null ? r! : r with { Id = r.Id ?? $"{id}::{n}" }).ToList();
        for (var n = 0; n < requests.Count; n++)
        {
            if (requests[n]?.Id is { } member && !member.StartsWith(id + "::", StringComparison.Ordinal))
            {
                errors.Add(new JobValidationError(n, "id", "id_outside_batch", $"A batch member's id starts with the batch id and '::' ('{id}::…'); was '{member}'."));
            }
            else if (requests[n]?.Id == JobStore.BatchCompletionId(id))
            {
                errors.Add(new JobValidationError(n, "id", "reserved_id", $"'{JobStore.BatchCompletionId(id)}' is the id of the batch's completion job."));
            }

            if (requests[n]?.UniqueKey is not null)
            {
                errors.Add(new JobValidationError(n, "uniqueKey", "unique_key_in_batch", "A batch member has no uniqueKey: every member of a batch is stored (deduplicate the batch by its id)."));
            }
        }

        errors.AddRange(JobValidator.Validate(requests, engine.Options, handlers.Contains, handlers.Types, now, NewId, out var jobs, engine.Store.Shards, engine.Store.Keys.ShardOf));
        if (batch.Completion is { } completion)
        {
            var completionErrors = JobValidator.Validate([completion with { Id = JobStore.BatchCompletionId(id) }], engine.Options, handlers.Contains, handlers.Types, now, NewId, out _);
            errors.AddRange(completionErrors.Select(e => e with { Index = -1, Field = "completion." + e.Field }));
            if (completion.DependsOn is { Count: > 0 } || completion.RunAt is not null || completion.Delay is not null || completion.UniqueKey is not null || completion.Id is not null)
            {
                errors.Add(new JobValidationError(-1, "completion", "invalid_completion", "The completion job runs once when the batch finished, as '{batch}::complete': it has no id, uniqueKey, dependsOn, runAt or delaySeconds."));
            }
        }

        if (errors.Count == 0)
        {
            errors.AddRange(await Guard(UnknownDependenciesAsync(jobs)));
        }

        if (errors.Count > 0)
        {
            return new BatchResponse(null, [], errors);
        }

        for (var i = 0; i < jobs.Count; i++)
        {
            jobs[i] = jobs[i] with { BatchId = id };
        }

        Stamp(jobs, notAfter);
        var (created, stored, existingMember) = await Guard(engine.Store.InsertBatchAsync(id, batch.Completion, jobs, now));
        if (existingMember == jobs.Count)
        {
            return new BatchResponse(null, [], [new JobValidationError(-1, "completion", "job_exists",
                $"A job with the id '{JobStore.BatchCompletionId(id)}' exists already: that is the id of this batch's completion job (give the batch another id); nothing was stored.")]);
        }

        if (existingMember >= 0)
        {
            return new BatchResponse(null, [], [new JobValidationError(existingMember, "id", "job_exists",
                $"A job with the id '{jobs[existingMember].Id}' exists already: a batch's members are new jobs (give it another id, or let the batch choose them); nothing was stored.")]);
        }

        if (stored is null || stored.Any(r => r is null))
        {
            throw new JobServiceUnavailableException($"The batch reached the store after its deadline ({notAfter:O}); nothing of it was stored.");
        }

        if (!created)
        {
            // The id exists: the same submission again (a retry after a lost answer) gets the batch as it is; other jobs get a conflict.
            var existing = await Guard(engine.Store.BatchAsync(id));
            var members = await Guard(engine.Store.LoadAsync(jobs.Select(j => j.Id).ToList()));
            if (existing is { } b && b.View.Total == jobs.Count && members.All(m => m is not null && m.Id.StartsWith(id + "::", StringComparison.Ordinal)))
            {
                return new BatchResponse(b.View, members.Select(m => new EnqueueResult(m!.Id, m.State, false)).ToList(), []);
            }

            return new BatchResponse(null, [], [new JobValidationError(-1, "id", "batch_exists", $"A batch with the id '{id}' exists already, with other jobs; choose another id.")]);
        }

        var results = stored.Select(r => r!).ToList();
        Submitted(jobs, results);
        return new BatchResponse(await GetBatchAsync(id), results, []);
    }

    public async Task<BatchView?> GetBatchAsync(string id) => IsBatchId(id) && await Guard(engine.Store.BatchAsync(id)) is { } batch ? batch.View : null;

    public Task<ScheduleResult> PutScheduleAsync(ScheduleDefinition schedule) => Guard(schedules.PutAsync(schedule));

    public Task<ScheduleView?> GetScheduleAsync(string id) => Guard(schedules.GetAsync(id));

    public Task<IReadOnlyList<ScheduleView>> GetSchedulesAsync() => Guard(schedules.ListAsync());

    public Task<ScheduleResult> ScheduleCommandAsync(string id, ScheduleCommand command) => Guard(schedules.CommandAsync(id, command));

    /// <summary>Sequence numbers, the deadline, and the trace the attempts hang below.</summary>
    private void Stamp(List<NewJob> jobs, DateTimeOffset? notAfter)
    {
        var current = Activity.Current;
        var seq = engine.Sequence.Next(jobs.Count);
        for (var i = 0; i < jobs.Count; i++)
        {
            // Prefer the silo-side span of this call when it belongs to the submitter's trace: the attempts then hang
            // below the whole chain (API request → Orleans client call → this grain call).
            var submitted = jobs[i].TraceParent;
            var traceParent = current is not null && (submitted is null || TraceContext.TraceIdOf(submitted) == current.TraceId.ToHexString())
                ? current.Id
                : submitted;
            jobs[i] = jobs[i] with { TraceParent = traceParent, NotAfter = notAfter, Seq = seq + i };
        }
    }

    /// <summary>Counts what was stored; settles new waiting jobs whose dependencies may have finished already.</summary>
    private void Submitted(List<NewJob> jobs, List<EnqueueResult> results)
    {
        var created = results.Count(r => r.Created);
        if (created > 0)
        {
            engine.Instruments.Submitted(created);
        }

        for (var i = 0; i < results.Count; i++)
        {
            if (results[i].Id != jobs[i].Id)
            {
                // Answered with another job: the one that holds the unique key.
                engine.Instruments.Deduplicated(jobs[i].Queue, 1);
            }
            else if (results[i].Created && jobs[i].DependsOn.Count > 0)
            {
                engine.FollowUps.SettleSoon(jobs[i].Id);
            }
        }
    }

    /// <summary>Dependencies outside the submission that are not in the store: one error per job naming them.</summary>
    private async Task<List<JobValidationError>> UnknownDependenciesAsync(List<NewJob> jobs)
    {
        var external = JobValidator.ExternalDependencies(jobs);
        var errors = new List<JobValidationError>();
        if (external.Count == 0)
        {
            return errors;
        }

        var found = await engine.Store.LoadAsync(external);
        var missing = external.Where((_, i) => found[i] is null).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < jobs.Count; i++)
        {
            var unknown = jobs[i].DependsOn.Where(missing.Contains).ToList();
            if (unknown.Count > 0)
            {
                errors.Add(new JobValidationError(i, "dependsOn", "unknown_dependency", $"No job has the id {string.Join(", ", unknown.Select(u => $"'{u}'"))} (dependencies must exist, or come earlier in the same submission)."));
            }
        }

        return errors;
    }

    private static bool IsBatchId(string id) => ScheduleRules.IsWordId(id);

    private const int MaxBatchSize = 10_000;

    public Task<JobView?> GetAsync(string id) => Guard(engine.Store.GetAsync(id));

    public Task<JobPage> ListAsync(JobListQuery query) => Guard(engine.Store.ListAsync(query));

    public Task<JobStats> GetStatsAsync() => Guard(engine.Store.StatsAsync(engine.Time.GetUtcNow()));

    public async Task<IReadOnlyList<QueueView>> GetQueuesAsync()
    {
        var settings = await Guard(engine.RefreshQueueSettingsAsync());
        var stats = await Guard(engine.Store.StatsAsync(engine.Time.GetUtcNow()));
        var counts = stats.Queues.ToDictionary(q => q.Name, q => q.States, StringComparer.Ordinal);
        return settings.Keys.Order(StringComparer.Ordinal)
            .Select(name => new QueueView { Name = name, Settings = settings[name], States = counts.GetValueOrDefault(name) ?? new Dictionary<JobState, long>() })
            .ToList();
    }

    public async Task<QueueUpdateResult> UpdateQueueAsync(string name, QueueSettingsUpdate update)
    {
        var now = engine.Time.GetUtcNow();
        var errors = JobValidator.ValidateQueue(name, update, now);
        if (errors.Count > 0)
        {
            return new QueueUpdateResult(null, errors);
        }

        // Applied to what is stored when it writes, so a change made meanwhile (another operator, a silo ending a timed
        // pause) is kept in every field this update does not name.
        var (next, _) = await Guard(engine.Store.UpdateQueueSettingsAsync(name, current => current with
        {
            Paused = update.PausedUntil is not null || (update.Paused ?? current.Paused),
            PausedUntil = update.PausedUntil ?? (update.Paused == false ? null : current.PausedUntil),
            MaxConcurrency = update.ClearMaxConcurrency ? null : update.MaxConcurrency ?? current.MaxConcurrency,
            RateLimit = update.ClearRateLimit ? null : update.RateLimit ?? current.RateLimit,
        }));
        var view = (await GetQueuesAsync()).FirstOrDefault(q => q.Name == name) ?? new QueueView { Name = name, Settings = next };
        return new QueueUpdateResult(view, []);
    }

    /// <summary>Cancels a queued, scheduled or waiting job; a running one is flagged and its silo told (it fires the attempt's token).</summary>
    public Task<JobCommandResult> CancelAsync(string id) => Guard(engine.CancelAsync(id));

    public Task<JobCommandResult> RetryAsync(string id) => Guard(engine.RequeueAsync(id));

    public Task<JobCommandResult> DeleteAsync(string id) => Guard(engine.DeleteAsync(id));

    public Task<DateTimeOffset?> GetTimeAsync() => Task.FromResult(engine.EarliestStoreTime);

    public async Task<JobView?> WaitAsync(string id, TimeSpan timeout)
    {
        var deadline = Deadline.In(engine.Time, timeout);
        var poll = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var job = await Guard(engine.Store.GetAsync(id));
            var left = deadline.Left;
            if (job is null || job.State.IsFinished() || left <= TimeSpan.Zero)
            {
                return job;
            }

            await Task.Delay(Min(poll, left), engine.Time);
            poll = Min(poll * 2, TimeSpan.FromMilliseconds(250));
        }
    }

    /// <summary>
    /// A job submitted on its own under the id of a batch's completion job (<c>{batch}::complete</c>) while that batch
    /// exists: it would take the id from the batch, which would then close without its completion. (A batch stored after
    /// such a job is refused by the store; one stored in between closes without it and says so.)
    /// </summary>
    private async Task<IReadOnlyList<JobValidationError>> BatchCompletionIdsAsync(IReadOnlyList<JobRequest> requests)
    {
        var errors = new List<JobValidationError>();
        for (var i = 0; i < requests.Count; i++)
        {
            if (requests[i].Id is { } id && id.EndsWith(JobStore.BatchCompletionSuffix, StringComparison.Ordinal)
                && id[..^JobStore.BatchCompletionSuffix.Length] is var batch && IsBatchId(batch) && await engine.Store.BatchAsync(batch) is not null)
            {
                errors.Add(new JobValidationError(i, "id", "reserved_id", $"'{id}' is the id of batch '{batch}''s completion job."));
            }
        }

        return errors;
    }

    /// <summary>Turns a store outage into <see cref="JobServiceUnavailableException"/>, which callers map to 503.</summary>
    private static async Task Guard(Task call)
    {
        try
        {
            await call;
        }
        catch (Exception ex) when (StoreFailures.IsUnavailable(ex))
        {
            throw new JobServiceUnavailableException($"The job store is unavailable: {ex.Message}");
        }
    }

    private static async Task<T> Guard<T>(Task<T> call)
    {
        try
        {
            return await call;
        }
        catch (Exception ex) when (StoreFailures.IsUnavailable(ex))
        {
            throw new JobServiceUnavailableException($"The job store is unavailable: {ex.Message}");
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string NewId() => Guid.CreateVersion7().ToString("N");
}
