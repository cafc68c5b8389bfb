using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansWorker.Hosting;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// The per-silo core shared by the grains and the dispatcher: the store, group-committed writes, this silo's owner
/// name, and the commands (cancel, retry, delete) as read → decide (<see cref="JobRules"/>) → apply if unchanged.
/// </summary>
internal sealed class JobEngine : IAsyncDisposable
{
    private readonly GroupCommitter<IReadOnlyList<NewJob>, EnqueueResult?[]> _inserts;
    private readonly GroupCommitter<JobTransition, ApplyOutcome> _transitions;
    private OwnerName _owner;

    public JobEngine(JobStore store, IOptions<WorkerOptions> options, TimeProvider time, AttemptTracker tracker, JobInstruments instruments, ILocalSiloDetails silo, ILoggerFactory loggers)
    {
        Store = store;
        Options = options.Value;
        Time = _clock = new StoreClock(time);
        Tracker = tracker;
        Instruments = instruments;
        Silo = silo.SiloAddress.ToParsableString();
        _owner = new OwnerName(1, $"{Silo}/1");
        Sequence = new SequenceGenerator(Time);
        Retry = new RetrySettings(Options.RetryBaseDelay, Options.RetryMaxDelay);
        // A queue listed more than once (as Sidekiq's -q critical -q critical, or by merged configuration sources) is one
        // entry with the weights added: a claim takes a limited queue's permits once per entry.
        WeightedQueues = Options.Queues.Select(e => WeightedQueue.TryParse(e, out var q) ? q : new WeightedQueue(e, 1))
            .GroupBy(q => q.Queue, StringComparer.Ordinal)
            .Select(g => new WeightedQueue(g.Key, g.Sum(q => q.Weight)))
            .ToList();
        instruments.Queues = Queues;
        // On Redis, inserts are bounded by jobs, not by submissions: one script of thousands of jobs (eight batches of 500
        // that came together) holds Redis for tens of milliseconds, and every silo's claims and outcomes wait that long.
        // The embedded engine commits each call on its own: there, up to WriteBatchSize / 16 submissions share a commit.
        _inserts = store.PrefersLargeCalls
            ? new(WriteInsertsAsync, Math.Max(1, Options.WriteBatchSize / 16))
            : new(WriteInsertsAsync, Options.WriteBatchSize, jobs => jobs.Count);
        _transitions = new(async batch => await Store.ApplyAsync(batch), Options.WriteBatchSize);
        FollowUps = new JobFollowUps(this, loggers.CreateLogger("OrleansWorker.Jobs"));
    }

    /// <summary>Dependents and batches of jobs that finished.</summary>
    public JobFollowUps FollowUps { get; }

    /// <summary>Below this, a gap to the store's clock is taken for the noise of synchronised clocks and left alone.</summary>
    private static readonly TimeSpan ClockDeadBand = TimeSpan.FromMilliseconds(100);

    private readonly StoreClock _clock;

    public JobStore Store { get; }

    public WorkerOptions Options { get; }

    /// <summary>The time the engine goes by: this silo's clock set to the store's once measured (see <see cref="StoreClock"/>).</summary>
    public TimeProvider Time { get; }

    public AttemptTracker Tracker { get; }

    public JobInstruments Instruments { get; }

    public SequenceGenerator Sequence { get; }

    public RetrySettings Retry { get; }

    /// <summary>The queues this silo takes from with their weights; empty: every queue, equally.</summary>
    public IReadOnlyList<WeightedQueue> WeightedQueues { get; }

    /// <summary>Every queue's settings as last read.</summary>
    public QueueSettingsCache Queues { get; } = new();

    /// <summary>This silo's address (parsable), the part of the owner name that membership knows.</summary>
    public string Silo { get; }

    /// <summary>
    /// This silo's name as a lease owner: its address and an epoch that grows each time it finds itself revoked
    /// (cut off long enough for others to take its jobs), so that it can go on working under a name nobody revoked.
    /// </summary>
    public string Owner => Volatile.Read(ref _owner).Name;

    /// <summary>
    /// Moves to a new owner name after this silo found <paramref name="current"/> revoked or lost; false when another
    /// thread already moved on from it.
    /// </summary>
    public bool TryNextEpoch(string current, out string next)
    {
        var owner = Volatile.Read(ref _owner);
        if (owner.Name == current)
        {
            // A full fence: an attempt that starts after this (JobGrain) sees the new name; one that started before is in
            // the caller's snapshot of the attempts it abandons.
            var moved = new OwnerName(owner.Epoch + 1, $"{Silo}/{owner.Epoch + 1}");
            if (Interlocked.CompareExchange(ref _owner, moved, owner) == owner)
            {
                next = moved.Name;
                return true;
            }
        }

        next = Owner;
        return false;
    }

    /// <summary>Whether a claim made under <paramref name="owner"/> is still this silo's to run (its epoch has not moved on).</summary>
    public bool IsOwner(string owner) => string.Equals(owner, Owner, StringComparison.Ordinal);

    private sealed record OwnerName(int Epoch, string Name);

    /// <summary>Stores new jobs (group-committed with other submissions on this silo).</summary>
    public Task<EnqueueResult?[]> EnqueueAsync(IReadOnlyList<NewJob> jobs) => _inserts.SubmitAsync(jobs);

    /// <summary>Applies a decided transition (group-committed), then its follow-ups (dependents, batch).</summary>
    public async Task<ApplyOutcome> ApplyAsync(JobTransition transition)
    {
        var outcome = await _transitions.SubmitAsync(transition);
        if (outcome == ApplyOutcome.Applied)
        {
            FollowUps.OnApplied(transition);
        }

        return outcome;
    }

    /// <summary>
    /// Applies transitions in one store call, then the follow-ups of those that applied. One that a cancellation requested
    /// meanwhile refused (<see cref="JobTransition.HonorCancel"/>) is applied again as Cancelled, so the job does not stay
    /// Running: a hand-back or a recovery must not run a job again whose cancellation was already acknowledged.
    /// </summary>
    public async Task<IReadOnlyList<ApplyOutcome>> ApplyAllAsync(IReadOnlyList<JobTransition> transitions)
    {
        (transitions, var outcomes) = await Completion.ApplyAllAsync(transitions, Store.ApplyAsync);
        for (var i = 0; i < transitions.Count; i++)
        {
            if (outcomes[i] == ApplyOutcome.Applied)
            {
                FollowUps.OnApplied(transitions[i]);
            }
        }

        return outcomes;
    }

    public Task<JobCommandResult> CancelAsync(string id) => CommandAsync(id, JobRules.Cancel);

    /// <summary>
    /// How far this silo's clock is ahead of the store's (negative: behind), from one reading of the store's clock
    /// taken between two of this silo's; published as <c>worker_store_clock_skew_seconds</c>. The gap is known within
    /// half the reading's round trip (<c>Uncertainty</c>). When it is larger than that plus <see cref="ClockDeadBand"/>,
    /// <see cref="Time"/> runs on from the store's time read (see <see cref="StoreClock"/>); when the reading was quick
    /// and the gap is within the dead band, it is the silo's own clock; otherwise it stays as it was (<c>Decided</c> false).
    /// </summary>
    public async Task<(TimeSpan Skew, TimeSpan Uncertainty, bool Decided)> MeasureClockSkewAsync()
    {
        var local = _clock.Local;
        var started = local.GetTimestamp();
        var before = local.GetUtcNow();
        var store = await Store.ClockAsync();
        var ended = local.GetTimestamp();
        var half = local.GetElapsedTime(started, ended) / 2;
        var skew = before + half - store;
        Instruments.SetClockSkew(skew.TotalSeconds);
        if (skew.Duration() > half + ClockDeadBand)
        {
            _clock.Follow(store + half, ended, half);
            return (skew, half, true);
        }

        if (half <= ClockDeadBand)
        {
            _clock.FollowLocal(ClockDeadBand + half);
            return (skew, half, true);
        }

        return (skew, half, false);
    }

    /// <summary>How far this silo's wall clock is ahead of <see cref="Time"/> (negative: behind); zero while they agree.</summary>
    public TimeSpan ClockOffset => _clock.Offset;

    /// <summary>
    /// The earliest the store's clock can read now, by this silo's last reading of it (<see cref="Time"/> less that
    /// reading's uncertainty); null before a reading decided the engine's time.
    /// </summary>
    public DateTimeOffset? EarliestStoreTime => _clock.Uncertainty is { } uncertainty ? Time.GetUtcNow() - uncertainty : null;

    /// <summary>Reads every queue's settings into <see cref="Queues"/>.</summary>
    public async Task<IReadOnlyDictionary<string, QueueSettings>> RefreshQueueSettingsAsync()
    {
        var all = await Store.QueueSettingsAsync();
        Queues.Set(all);
        return all;
    }

    /// <summary>Pauses a queue until <paramref name="until"/> (a remote side asked the whole queue to wait), unless it waits longer already.</summary>
    public async Task PauseQueueUntilAsync(string queue, DateTimeOffset until)
    {
        await Store.UpdateQueueSettingsAsync(queue, current =>
            current.Paused && (current.PausedUntil is null || current.PausedUntil >= until) ? null : current with { Paused = true, PausedUntil = until });
    }

    public async Task<JobCommandResult> RequeueAsync(string id)
    {
        var result = await CommandAsync(id, JobRules.Requeue);
        if (result is { Status: JobCommandStatus.Ok, Job.State: JobState.Waiting })
        {
            // Its dependencies may all have finished long ago: no end of theirs is coming to release it.
            FollowUps.SettleSoon(id);
        }

        return result;
    }

    public async Task<JobCommandResult> DeleteAsync(string id)
    {
        var result = await CommandAsync(id, JobRules.Delete);
        return result.Status == JobCommandStatus.Ok ? result with { Job = null } : result;
    }

    public async ValueTask DisposeAsync()
    {
        await _inserts.DisposeAsync();
        await _transitions.DisposeAsync();
    }

    /// <summary>Read, decide, apply if the job has not moved on; on a race, read again (a few times).</summary>
    private async Task<JobCommandResult> CommandAsync(string id, Func<JobSnapshot, DateTimeOffset, (JobTransition? Transition, string? Refusal)> decide)
    {
        for (var attempt = 0; ; attempt++)
        {
            var job = await Store.LoadAsync(id);
            if (job is null)
            {
                return new JobCommandResult(JobCommandStatus.NotFound, null);
            }

            var (transition, refusal) = decide(job, Time.GetUtcNow());
            if (refusal is not null)
            {
                return new JobCommandResult(JobCommandStatus.Conflict, await Store.GetAsync(id), refusal);
            }

            var outcome = transition is null ? ApplyOutcome.Applied : await ApplyAsync(transition);
            if (outcome == ApplyOutcome.Applied)
            {
                return new JobCommandResult(JobCommandStatus.Ok, await Store.GetAsync(id));
            }

            if (outcome == ApplyOutcome.UniqueKeyTaken)
            {
                return new JobCommandResult(JobCommandStatus.Conflict, await Store.GetAsync(id),
                    $"Its unique key '{job.UniqueKey}' is held by another job, pending or finished within its uniqueFor; that job runs the work.");
            }

            if (attempt == 4)
            {
                throw new JobServiceUnavailableException($"Job {id} kept changing under the command; try again.");
            }
        }
    }

    private async Task<IReadOnlyList<EnqueueResult?[]>> WriteInsertsAsync(IReadOnlyList<IReadOnlyList<NewJob>> batches)
    {
        if (batches.Count == 1)
        {
            return [await Store.InsertAsync(batches[0])];
        }

        var all = await Store.InsertAsync(batches.SelectMany(b => b).ToList());
        var split = new EnqueueResult?[batches.Count][];
        var offset = 0;
        for (var i = 0; i < batches.Count; i++)
        {
            split[i] = all.AsSpan(offset, batches[i].Count).ToArray();
            offset += batches[i].Count;
        }

        return split;
    }
}
