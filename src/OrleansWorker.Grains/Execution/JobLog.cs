using Microsoft.Extensions.Logging;

namespace OrleansWorker.Execution;

/// <summary>The engine's log lines. Event ids 1000–1099.</summary>
internal static partial class JobLog
{
    [LoggerMessage(1000, LogLevel.Information, "Processing job {JobId} of type {JobType}, attempt {Attempt} of {MaxAttempts}, queue {Queue}")]
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

    [LoggerMessage(1010, LogLevel.Warning, "Dispatcher: claiming jobs failed; retrying in {Delay}")]
    public static partial void ClaimFailed(ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(1011, LogLevel.Warning, "Dispatcher: maintenance step {Step} failed")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception, string step);

    [LoggerMessage(1012, LogLevel.Warning, "Recovery: silo {Silo} is dead; requeued {Count} of its running jobs")]
    public static partial void RequeuedDeadSilo(ILogger logger, string silo, int count);

    [LoggerMessage(1013, LogLevel.Warning, "Recovery: requeued {Count} jobs whose leases expired")]
    public static partial void RequeuedExpired(ILogger logger, int count);

    [LoggerMessage(1014, LogLevel.Information, "Dispatcher started on {Silo}: up to {MaxConcurrentJobs} concurrent attempts, queues {Queues}, store {Store}")]
    public static partial void DispatcherStarted(ILogger logger, string silo, int maxConcurrentJobs, string queues, string store);

    [LoggerMessage(1015, LogLevel.Information, "Shutdown: draining {Count} running attempts for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, int count, TimeSpan drainTimeout);

    [LoggerMessage(1016, LogLevel.Information, "Shutdown: drain finished in {ElapsedMs} ms; {Remaining} attempts handed back; {Requeued} jobs requeued")]
    public static partial void Drained(ILogger logger, double elapsedMs, int remaining, int requeued);

    [LoggerMessage(1017, LogLevel.Warning, "Shutdown: handing back this silo's running jobs failed; their leases will expire and they will run elsewhere")]
    public static partial void HandBackFailed(ILogger logger, Exception exception);

    [LoggerMessage(1018, LogLevel.Warning, "No Redis connection string (ConnectionStrings:redis): running the embedded single-node engine with in-memory state. Jobs are NOT durable and are lost when this process exits.")]
    public static partial void NotDurable(ILogger logger);

    [LoggerMessage(1019, LogLevel.Information, "Retention: purged {Count} finished jobs")]
    public static partial void Purged(ILogger logger, int count);

    [LoggerMessage(1020, LogLevel.Warning, "Job {JobId}: result of attempt {Attempt} is {Bytes} bytes; the limit is {Limit}")]
    public static partial void ResultTooLarge(ILogger logger, string jobId, int attempt, int bytes, int limit);
}
