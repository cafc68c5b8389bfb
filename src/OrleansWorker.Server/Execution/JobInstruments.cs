using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OrleansWorker.Execution;

/// <summary>The engine's metrics (meter <c>OrleansWorker</c>) and trace source (<c>OrleansWorker.Jobs</c>).</summary>
public sealed class JobInstruments
{
    /// <summary>The name of the engine's meter.</summary>
    public const string MeterName = "OrleansWorker";

    /// <summary>The name of the activity source of job attempts.</summary>
    public const string ActivitySourceName = "OrleansWorker.Jobs";

    internal static readonly ActivitySource ActivitySource = new(ActivitySourceName);

    private readonly Counter<long> _submitted;
    private readonly Counter<long> _processed;
    private readonly Counter<long> _retried;
    private readonly Counter<long> _deadLettered;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _queueWait;
    private readonly Counter<long> _limitHits;
    private readonly Counter<long> _deduplicated;
    private readonly Counter<long> _leaseEvents;
    private readonly Counter<long> _abandoned;
    private readonly Counter<long> _refunds;
    private readonly Counter<long> _revocations;
    private readonly Counter<long> _scheduleFires;
    private readonly Counter<long> _scheduleMisfires;
    private readonly Counter<long> _scheduleSkips;
    private long _queued;
    private long _waiting;
    private long _schedules;
    private long _succeeded;
    private long _failed;
    private double _clockSkew;

    /// <summary>Creates the instruments from <paramref name="meterFactory"/>.</summary>
    internal JobInstruments(IMeterFactory meterFactory, AttemptTracker tracker)
    {
        var meter = meterFactory.Create(MeterName);
        _submitted = meter.CreateCounter<long>("worker_jobs_submitted", description: "Jobs accepted (new ids only).");
        _processed = meter.CreateCounter<long>("worker_jobs_processed", description: "Attempts that ended, by type, queue and outcome (succeeded, failed, cancelled).");
        _retried = meter.CreateCounter<long>("worker_jobs_retried", description: "Failed attempts scheduled to run again.");
        _deadLettered = meter.CreateCounter<long>("worker_jobs_dead_lettered", description: "Jobs that used up their attempts.");
        _duration = meter.CreateHistogram<double>("worker_job_duration_seconds", description: "Duration of attempts.");
        _queueWait = meter.CreateHistogram<double>("worker_job_queue_wait_seconds", description: "Time from ready to attempt start.");
        meter.CreateObservableGauge("worker_jobs_in_flight", () => tracker.InFlight, description: "Attempts running on this silo.");
        meter.CreateObservableGauge("worker_jobs_queued", () => Volatile.Read(ref _queued), description: "Jobs in state Queued, cluster-wide, as last counted by this silo.");
        meter.CreateObservableGauge("worker_jobs_waiting", () => Volatile.Read(ref _waiting), description: "Jobs in state Waiting (for dependencies), cluster-wide, as last counted by this silo.");
        meter.CreateObservableGauge("worker_schedules", () => Volatile.Read(ref _schedules), description: "Recurring jobs defined, cluster-wide, as last counted by this silo.");
        _limitHits = meter.CreateCounter<long>("worker_queue_limit_hits", description: "Claims that got fewer jobs than they could take because of a queue's concurrency limit or rate limit, by queue and kind.");
        _deduplicated = meter.CreateCounter<long>("worker_jobs_deduplicated", description: "Submissions answered with an existing job because of their unique key, by queue.");
        _leaseEvents = meter.CreateCounter<long>("worker_lease_lost", description: "Times this silo lost its lease (could not renew: 'lost') or found itself revoked by another silo ('revoked'), by kind.");
        _abandoned = meter.CreateCounter<long>("worker_attempts_abandoned", description: "Attempts this silo abandoned because it lost its lease (other silos run those jobs), by kind.");
        _refunds = meter.CreateCounter<long>("worker_interruptions_refunded", description: "Interruptions this silo gave back to jobs after it found it had only been cut off.");
        _revocations = meter.CreateCounter<long>("worker_owners_revoked", description: "Other silos' owners this silo revoked and recovered jobs from, by reason (dead, lease_expired).");
        _scheduleFires = meter.CreateCounter<long>("worker_schedule_fires", description: "Jobs submitted by recurring jobs' ticks, by schedule.");
        _scheduleMisfires = meter.CreateCounter<long>("worker_schedule_misfires", description: "Ticks of recurring jobs missed by more than the misfire threshold (not fired), by schedule.");
        _scheduleSkips = meter.CreateCounter<long>("worker_schedule_skips", description: "Ticks skipped because the previous tick's job had not finished (overlap Skip), by schedule.");
        meter.CreateObservableGauge("worker_store_clock_skew_seconds", () => Volatile.Read(ref _clockSkew),
            description: "How far this silo's clock is ahead of the job store's (negative: behind), as last measured (every 5 s).");
        meter.CreateObservableGauge("worker_queue_paused", () => Queues?.All.Select(q => new Measurement<int>(q.Value.Paused ? 1 : 0, new KeyValuePair<string, object?>("queue", q.Key))) ?? [],
            description: "1 while a queue is paused, by queue.");
    }

    /// <summary>Raised after each attempt's duration is recorded, with the trace id of the attempt (for exemplars).</summary>
    public event Action<string, string, double, ActivityTraceId?>? AttemptDurationRecorded;

    internal void Submitted(long count) => _submitted.Add(count);

    /// <summary>Attempts that succeeded on this silo since it started.</summary>
    internal long Succeeded => Volatile.Read(ref _succeeded);

    /// <summary>Attempts that failed (failed, timed out) on this silo since it started.</summary>
    internal long Failed => Volatile.Read(ref _failed);

    internal void Processed(string type, string queue, string outcome, double seconds, ActivityTraceId? traceId)
    {
        if (outcome == "succeeded")
        {
            Interlocked.Increment(ref _succeeded);
        }
        else if (outcome == "failed")
        {
            Interlocked.Increment(ref _failed);
        }

        var tags = new TagList { { "type", type }, { "queue", queue }, { "outcome", outcome } };
        _processed.Add(1, tags);
        _duration.Record(seconds, new TagList { { "type", type }, { "queue", queue } });
        AttemptDurationRecorded?.Invoke(type, queue, seconds, traceId);
    }

    internal void Retried(string type, string queue) => _retried.Add(1, new TagList { { "type", type }, { "queue", queue } });

    internal void DeadLettered(string type, string queue) => _deadLettered.Add(1, new TagList { { "type", type }, { "queue", queue } });

    internal void QueueWait(string queue, double seconds) => _queueWait.Record(seconds, new TagList { { "queue", queue } });

    internal void SetQueued(long count) => Volatile.Write(ref _queued, count);

    internal void SetWaitingAndSchedules(long waiting, long schedules)
    {
        Volatile.Write(ref _waiting, waiting);
        Volatile.Write(ref _schedules, schedules);
    }

    /// <summary>The last measured gap to the store's clock, in seconds (<c>worker_store_clock_skew_seconds</c>).</summary>
    internal double ClockSkewSeconds => Volatile.Read(ref _clockSkew);

    internal void SetClockSkew(double seconds) => Volatile.Write(ref _clockSkew, seconds);

    /// <summary>The queues' settings, for the paused gauge (set by the engine).</summary>
    internal QueueSettingsCache? Queues { get; set; }

    internal void LimitHit(string queue, string kind) => _limitHits.Add(1, new TagList { { "queue", queue }, { "kind", kind } });

    internal void Deduplicated(string queue, long count) => _deduplicated.Add(count, new TagList { { "queue", queue } });

    internal void ScheduleFired(string schedule) => _scheduleFires.Add(1, new TagList { { "schedule", schedule } });

    internal void ScheduleMisfired(string schedule, int ticks) => _scheduleMisfires.Add(ticks, new TagList { { "schedule", schedule } });

    internal void ScheduleSkipped(string schedule) => _scheduleSkips.Add(1, new TagList { { "schedule", schedule } });

    internal void LeaseEvent(string kind, int abandonedAttempts)
    {
        _leaseEvents.Add(1, new TagList { { "kind", kind } });
        _abandoned.Add(abandonedAttempts, new TagList { { "kind", kind } });
    }

    internal void InterruptionsRefunded(int count) => _refunds.Add(count);

    internal void OwnerRevoked(string reason) => _revocations.Add(1, new TagList { { "reason", reason } });
}
