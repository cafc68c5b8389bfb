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
internal sealed class JobManagerGrain(JobEngine engine, JobHandlerRegistry handlers) : Grain, IJobManagerGrain
{
    public async Task<EnqueueResponse> EnqueueAsync(IReadOnlyList<JobRequest> requests, DateTimeOffset? notAfter)
    {
        var errors = JobValidator.Validate(requests, engine.Options, handlers.Contains, handlers.Types, engine.Time.GetUtcNow(), NewId, out var jobs, engine.Store.Shards);
        if (errors.Count > 0)
        {
            return new EnqueueResponse([], errors);
        }

        var current = Activity.Current;
        var seq = engine.Sequence.Next(jobs.Count);
        for (var i = 0; i < jobs.Count; i++)
        {
            // Prefer the silo-side span of this call when it belongs to the submitter's trace: the attempts then hang
            // below the whole chain (API request → Orleans client call → this grain call).
            var submitted = jobs[i].TraceParent;
            if (current is not null && (submitted is null || TraceContext.TraceIdOf(submitted) == current.TraceId.ToHexString()))
            {
                jobs[i] = jobs[i] with { TraceParent = current.Id };
            }

            jobs[i] = jobs[i] with { NotAfter = notAfter, Seq = seq + i };
        }

        var stored = await Guard(engine.EnqueueAsync(jobs));
        if (stored.Any(r => r is null))
        {
            // One request shares one deadline, so either every job of it expired or none did.
            throw new JobServiceUnavailableException($"The submission reached the store after its deadline ({notAfter:O}); nothing was stored.");
        }

        var results = stored.Select(r => r!).ToList();
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
        }

        return new EnqueueResponse(results, []);
    }

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

        var current = (await Guard(engine.RefreshQueueSettingsAsync())).GetValueOrDefault(name) ?? new QueueSettings();
        var next = current with
        {
            Paused = update.PausedUntil is not null || (update.Paused ?? current.Paused),
            PausedUntil = update.PausedUntil ?? (update.Paused == false ? null : current.PausedUntil),
            MaxConcurrency = update.ClearMaxConcurrency ? null : update.MaxConcurrency ?? current.MaxConcurrency,
            RateLimit = update.ClearRateLimit ? null : update.RateLimit ?? current.RateLimit,
        };
        await Guard(engine.Store.SaveQueueSettingsAsync(name, next));
        var view = (await GetQueuesAsync()).FirstOrDefault(q => q.Name == name) ?? new QueueView { Name = name, Settings = next };
        return new QueueUpdateResult(view, []);
    }

    /// <summary>Cancels a queued, scheduled or waiting job; a running one is flagged and its silo told (it fires the attempt's token).</summary>
    public Task<JobCommandResult> CancelAsync(string id) => Guard(engine.CancelAsync(id));

    public Task<JobCommandResult> RetryAsync(string id) => Guard(engine.RequeueAsync(id));

    public Task<JobCommandResult> DeleteAsync(string id) => Guard(engine.DeleteAsync(id));

    public async Task<JobView?> WaitAsync(string id, TimeSpan timeout)
    {
        var deadline = engine.Time.GetUtcNow() + timeout;
        var poll = TimeSpan.FromMilliseconds(20);
        while (true)
        {
            var job = await Guard(engine.Store.GetAsync(id));
            var left = deadline - engine.Time.GetUtcNow();
            if (job is null || job.State.IsFinished() || left <= TimeSpan.Zero)
            {
                return job;
            }

            await Task.Delay(Min(poll, left), engine.Time);
            poll = Min(poll * 2, TimeSpan.FromMilliseconds(250));
        }
    }

    /// <summary>Turns a store outage into <see cref="JobServiceUnavailableException"/>, which callers map to 503.</summary>
    private static async Task Guard(Task call)
    {
        try
        {
            await call;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or Microsoft.Data.Sqlite.SqliteException)
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
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or Microsoft.Data.Sqlite.SqliteException)
        {
            throw new JobServiceUnavailableException($"The job store is unavailable: {ex.Message}");
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static string NewId() => Guid.CreateVersion7().ToString("N");
}
