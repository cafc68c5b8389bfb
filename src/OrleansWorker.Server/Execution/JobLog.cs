using Microsoft.Extensions.Logging;

namespace OrleansWorker.Execution;

/// <summary>The engine's log lines. Event ids 1000–1099.</summary>
internal static partial class JobLog
{
    [LoggerMessage(1000, LogLevel.Debug, "Processing job {JobId} of type {JobType}, attempt {Attempt} of {MaxAttempts}, queue {Queue}")]
    public static partial void Processing(ILogger logger, string jobId, string jobType, int attempt, int maxAttempts, string queue);

    [LoggerMessage(1001, LogLevel.Information, "Job {JobId} of type {JobType} completed: attempt {Attempt} succeeded in {DurationMs} ms")]
    public static partial void Completed(ILogger logger, string jobId, string jobType, int attempt, double durationMs);

    [LoggerMessage(1002, LogLevel.Warning, "Job {JobId} of type {JobType} failed: attempt {Attempt} of {MaxAttempts} ended {Outcome}; retrying at {RetryAt}")]
    public static partial void Retrying(ILogger logger, Exception? exception, string jobId, string jobType, int attempt, int maxAttempts, AttemptOutcome outcome, DateTimeOffset retryAt);

    [LoggerMessage(1003, LogLevel.Error, "Job {JobId} of type {JobType} failed and was dead-lettered after attempt {Attempt} of {MaxAttempts} ({Outcome})")]
    public static partial void DeadLettered(ILogger logger, Exception? exception, string jobId, string jobType, int attempt, int maxAttempts, AttemptOutcome outcome);

    [LoggerMessage(1004, LogLevel.Information, "Job {JobId} of type {JobType} cancelled during attempt {Attempt}")]
    public static partial void Cancelled(ILogger logger, string jobId, string jobType, int attempt);

    [LoggerMessage(1005, LogLevel.Information, "Job {JobId} of type {JobType}: attempt {Attempt} ended after its lease moved on; outcome not stored")]
    public static partial void Stale(ILogger logger, string jobId, string jobType, int attempt);

    [LoggerMessage(1006, LogLevel.Warning, "Job {JobId}: storing the outcome of attempt {Attempt} failed; retrying")]
    public static partial void CompletionWriteFailed(ILogger logger, Exception exception, string jobId, int attempt);

    [LoggerMessage(1007, LogLevel.Error, "Job {JobId}: gave up storing the outcome of attempt {Attempt}; its lease will expire and it will run again")]
    public static partial void CompletionAbandoned(ILogger logger, string jobId, int attempt);

    [LoggerMessage(1008, LogLevel.Warning, "Job {JobId}: handing the claim of attempt {Attempt} to its grain failed; releasing it")]
    public static partial void HandOffFailed(ILogger logger, Exception exception, string jobId, int attempt);

    [LoggerMessage(1046, LogLevel.Warning, "Job {JobId}: the call that started attempt {Attempt} failed, but the attempt runs (its handler held the call past its timeout before going asynchronous); it is not released")]
    public static partial void HandOffSlow(ILogger logger, Exception exception, string jobId, int attempt);

    [LoggerMessage(1047, LogLevel.Warning, "Job {JobId}: attempt {Attempt} returned a result that is not valid JSON text; the attempt fails for good")]
    public static partial void ResultNotJson(ILogger logger, string jobId, int attempt);

    [LoggerMessage(1010, LogLevel.Warning, "Dispatcher: claiming jobs failed; retrying in {Delay}")]
    public static partial void ClaimFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(1011, LogLevel.Warning, "Dispatcher: maintenance step {Step} failed")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception, string step);

    [LoggerMessage(1012, LogLevel.Warning, "Recovery: membership declared the silo of owner {Owner} dead; revoked it")]
    public static partial void RevokedDeadSilo(ILogger logger, string owner);

    [LoggerMessage(1013, LogLevel.Warning, "Recovery: owner {Owner} did not renew its lease for {Overdue} past its end; revoked it")]
    public static partial void RevokedExpired(ILogger logger, string owner, TimeSpan overdue);

    [LoggerMessage(1014, LogLevel.Information, "Dispatcher started as {Owner}: up to {MaxConcurrentJobs} concurrent attempts, queues {Queues}, store {Store} at {Location}")]
    public static partial void DispatcherStarted(ILogger logger, string owner, int maxConcurrentJobs, string queues, string store, string location);

    [LoggerMessage(1015, LogLevel.Information, "Shutdown: draining {Count} running attempts for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, int count, TimeSpan drainTimeout);

    [LoggerMessage(1016, LogLevel.Information, "Shutdown: drain finished in {ElapsedMs} ms; {Remaining} attempts handed back; {Requeued} jobs requeued")]
    public static partial void Drained(ILogger logger, double elapsedMs, int remaining, int requeued);

    [LoggerMessage(1017, LogLevel.Warning, "Shutdown: handing back this silo's running jobs failed; their leases will expire and they will run elsewhere")]
    public static partial void HandBackFailed(ILogger logger, Exception exception);

    [LoggerMessage(1018, LogLevel.Warning, "Recovery: requeued {Count} running jobs of revoked owner {Owner}")]
    public static partial void Requeued(ILogger logger, string owner, int count);

    [LoggerMessage(1019, LogLevel.Information, "Retention: purged {Count} finished jobs")]
    public static partial void Purged(ILogger logger, int count);

    [LoggerMessage(1020, LogLevel.Warning, "Job {JobId}: result of attempt {Attempt} is {Bytes} bytes; the limit is {Limit}")]
    public static partial void ResultTooLarge(ILogger logger, string jobId, int attempt, int bytes, int limit);

    [LoggerMessage(1021, LogLevel.Error, "Lease lost: owner {Owner} could not renew its lease for {Since}; abandoned {Count} attempts (other silos run those jobs) and stopped claiming until the store answers again")]
    public static partial void LeaseLost(ILogger logger, string owner, int count, TimeSpan since);

    [LoggerMessage(1022, LogLevel.Warning, "Lease regained: renewing again as {Owner}; claiming resumes")]
    public static partial void LeaseRegained(ILogger logger, string owner);

    [LoggerMessage(1023, LogLevel.Warning, "Revoked: another silo took over the jobs of owner {Owner} (this silo was cut off); abandoned {Count} attempts and carries on as {NewOwner}")]
    public static partial void Revoked(ILogger logger, string owner, int count, string newOwner);

    [LoggerMessage(1024, LogLevel.Information, "Gave back {Count} interruptions: the attempts were cut short by this silo being cut off, not by the jobs")]
    public static partial void Refunded(ILogger logger, int count);

    [LoggerMessage(1040, LogLevel.Warning, "Job store setting puts jobs at risk: {Where} has {Setting} {Value}: {Risk}")]
    public static partial void StoreSettingRisky(ILogger logger, string where, string setting, string value, string risk);

    [LoggerMessage(1025, LogLevel.Information, "Job store: {Engine} at {Location}; durability: {Durability}")]
    public static partial void StoreOpened(ILogger logger, string engine, string location, string durability);

    [LoggerMessage(1026, LogLevel.Information, "Job {JobId} of type {JobType}: attempt {Attempt} was rate-limited by a remote side; runs again at {RetryAt} without using up an attempt")]
    public static partial void Deferred(ILogger logger, string jobId, string jobType, int attempt, DateTimeOffset retryAt);

    [LoggerMessage(1027, LogLevel.Warning, "Handed back {Count} jobs that the store had running under {Owner} without this silo holding them (a claim whose answer was lost)")]
    public static partial void Orphans(ILogger logger, int count, string owner);

    [LoggerMessage(1028, LogLevel.Information, "Queue {Queue}: its timed pause is over; resumed")]
    public static partial void QueueResumed(ILogger logger, string queue);

    [LoggerMessage(1029, LogLevel.Warning, "Queue {Queue} paused until {Until}: a handler reported that a remote side rate-limited it")]
    public static partial void QueuePausedByHandler(ILogger logger, string queue, DateTimeOffset until);

    [LoggerMessage(1030, LogLevel.Warning, "Follow-up of job {JobId} ({Step}) failed; the sweep will retry it")]
    public static partial void FollowUpFailed(ILogger logger, Exception exception, string jobId, string step);

    [LoggerMessage(1031, LogLevel.Information, "Job {JobId} {Outcome}: its dependencies settled")]
    public static partial void DependenciesSettled(ILogger logger, string jobId, JobState outcome);

    [LoggerMessage(1032, LogLevel.Information, "Batch {BatchId} finished ({Succeeded} succeeded, {DeadLettered} dead-lettered, {Cancelled} cancelled of {Total}); completion job {CompletionJobId}")]
    public static partial void BatchFinished(ILogger logger, string batchId, int succeeded, int deadLettered, int cancelled, int total, string completionJobId);

    [LoggerMessage(1033, LogLevel.Information, "Schedule {ScheduleId} fired for {Tick}: job {JobId}")]
    public static partial void ScheduleFired(ILogger logger, string scheduleId, DateTimeOffset tick, string jobId);

    [LoggerMessage(1034, LogLevel.Warning, "Schedule {ScheduleId} missed {Count} tick(s) by more than the misfire threshold ({Policy})")]
    public static partial void ScheduleMisfired(ILogger logger, string scheduleId, int count, MisfirePolicy policy);

    [LoggerMessage(1035, LogLevel.Information, "Schedule {ScheduleId} skipped its tick at {Tick}: job {JobId} of the previous tick is still {State}")]
    public static partial void ScheduleSkipped(ILogger logger, string scheduleId, DateTimeOffset tick, string jobId, JobState state);

    [LoggerMessage(1036, LogLevel.Information, "Schedule {ScheduleId} {Change}: {Cron} ({TimeZone}), next tick {Next}")]
    public static partial void ScheduleChanged(ILogger logger, string scheduleId, string change, string cron, string timeZone, DateTimeOffset? next);

    [LoggerMessage(1037, LogLevel.Error, "Schedule {ScheduleId} failed to fire; the other schedules go on")]
    public static partial void ScheduleFailed(ILogger logger, Exception exception, string scheduleId);

    [LoggerMessage(1043, LogLevel.Error, "Batch {BatchId} finished, but its completion job was not submitted: it is no longer valid ({Reason})")]
    public static partial void BatchCompletionInvalid(ILogger logger, string batchId, string reason);

    [LoggerMessage(1044, LogLevel.Warning, "This silo's clock is {Seconds:0.000} s ahead of the job store's (negative: behind), more than {Tolerance} s: leases, recurring jobs, delays and rate limits compare clocks of different silos; synchronise clocks (NTP)")]
    public static partial void ClockSkewed(ILogger logger, double seconds, double tolerance);

    [LoggerMessage(1045, LogLevel.Information, "This silo's clock is within {Tolerance} s of the job store's again ({Seconds:0.000} s)")]
    public static partial void ClockInSync(ILogger logger, double seconds, double tolerance);

    [LoggerMessage(1038, LogLevel.Error, "Schedule {ScheduleId} skipped its tick at {Tick}: its job is no longer valid ({Reason}); fix it with PUT /schedules/{ScheduleId}")]
    public static partial void ScheduleTemplateInvalid(ILogger logger, string scheduleId, DateTimeOffset tick, string reason);

    [LoggerMessage(1039, LogLevel.Information, "Idle for {IdleSeconds:0} s after {Attempts} attempts: returned memory to the system (managed heap {HeapBeforeMiB:0} → {HeapAfterMiB:0} MiB, {PauseMs:0} ms)")]
    public static partial void MemoryTrimmed(ILogger logger, double idleSeconds, long attempts, double heapBeforeMiB, double heapAfterMiB, double pauseMs);

    [LoggerMessage(1041, LogLevel.Information, "New jobs are stored in job store layout {Layout}, the oldest a silo of the cluster reads (4: every silo is 0.4.3 or later; 3: a silo of 0.4.2 is in the cluster; 2: a silo of 0.4 or 0.4.1 is in the cluster; 1: a silo of 0.3 or earlier, or one that has not reported yet)")]
    public static partial void StoreLayout(ILogger logger, int layout);

    [LoggerMessage(1042, LogLevel.Warning, "A queue's pause or resume had not reached every shard's paused set (a store call failed between them, or two silos raced): the sets now follow the queues' settings")]
    public static partial void PausedSetsReconciled(ILogger logger);
}
