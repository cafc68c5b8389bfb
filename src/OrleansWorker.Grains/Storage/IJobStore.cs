namespace OrleansWorker.Storage;

/// <summary>A validated job about to be stored.</summary>
internal sealed record NewJob(
    string Id,
    string Type,
    string Queue,
    int Priority,
    string? Payload,
    int MaxAttempts,
    TimeSpan Timeout,
    DateTimeOffset? RunAt,
    DateTimeOffset CreatedAt,
    string? TraceParent)
{
    /// <summary>Do not store the job once the store's clock has passed this (the submitter gave up).</summary>
    public DateTimeOffset? NotAfter { get; init; }
}

/// <summary>The end of one attempt, to be stored (fenced by the claim token, owner and attempt number).</summary>
internal sealed record AttemptCompletion(
    string JobId,
    int Attempt,
    long ClaimToken,
    string Owner,
    AttemptOutcome Outcome,
    DateTimeOffset StartedAt,
    DateTimeOffset EndedAt,
    string? Result,
    JobError? Error,
    DateTimeOffset RetryAt);

/// <summary>What storing a completion did to the job.</summary>
internal enum CompletionEffect
{
    /// <summary>The attempt no longer owned the job (it was requeued or deleted meanwhile); nothing changed.</summary>
    Stale = 0,
    Succeeded = 1,
    Retrying = 2,
    DeadLettered = 3,
    Cancelled = 4,

    /// <summary>The attempt was handed back unfinished (shutdown or failed hand-off); the job is ready again and the attempt not counted.</summary>
    Released = 5,
}

/// <summary>Retention of finished jobs.</summary>
internal sealed record RetentionPolicy(TimeSpan Succeeded, TimeSpan Cancelled, TimeSpan DeadLettered);

/// <summary>
/// The source of truth for jobs and queues. Every method is one atomic transition (a Lua script in Redis,
/// a lock in memory), so a crash between two calls never leaves a job half-moved.
/// </summary>
internal interface IJobStore
{
    /// <summary>Whether jobs survive the process.</summary>
    bool IsDurable { get; }

    /// <summary>Raised (on any thread) when jobs became ready; the argument is the queue, or null for "any".</summary>
    event Action<string?>? JobsReady;

    /// <summary>
    /// Stores new jobs; an id that exists is left as it is and reported with Created = false; a job whose
    /// <see cref="NewJob.NotAfter"/> has passed by the store's clock is not stored and reported as null.
    /// </summary>
    Task<IReadOnlyList<EnqueueResult?>> EnqueueAsync(IReadOnlyList<NewJob> jobs);

    /// <summary>Moves up to <paramref name="max"/> ready jobs to Running, owned by <paramref name="owner"/>, highest priority first.</summary>
    Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(string owner, int max, IReadOnlyList<string> queues, DateTimeOffset now, DateTimeOffset leaseUntil);

    /// <summary>Stores the end of attempts; one effect per completion, in order.</summary>
    Task<IReadOnlyList<CompletionEffect>> CompleteAsync(IReadOnlyList<AttemptCompletion> completions);

    /// <summary>
    /// Extends the leases of the given jobs that <paramref name="owner"/> still holds; returns the ids whose cancellation
    /// was requested. Jobs the owner holds but does not list (an orphaned claim) keep their old lease and expire.
    /// </summary>
    Task<IReadOnlyList<string>> RenewLeasesAsync(string owner, IReadOnlyList<string> jobIds, DateTimeOffset leaseUntil);

    /// <summary>
    /// Hands every job <paramref name="owner"/> runs back to its queue, recording the attempt as interrupted.
    /// When <paramref name="countAttempt"/> is false (graceful hand-back) the attempt does not use up the budget.
    /// </summary>
    Task<int> RequeueOwnerAsync(string owner, DateTimeOffset now, string reason, bool countAttempt);

    /// <summary>The owners that hold running jobs.</summary>
    Task<IReadOnlyList<string>> GetOwnersAsync();

    /// <summary>Requeues running jobs whose lease ended before <paramref name="now"/>.</summary>
    Task<int> RequeueExpiredAsync(DateTimeOffset now);

    /// <summary>Moves scheduled jobs that are due to their queues; returns how many, and when the next one is due.</summary>
    Task<(int Promoted, DateTimeOffset? NextDue)> PromoteDueAsync(DateTimeOffset now, int max);

    /// <summary>Moves a running job to another owner (its grain runs on another silo than the one that claimed it).</summary>
    Task<bool> TransferAsync(string jobId, int attempt, string fromOwner, string toOwner);

    Task ReportProgressAsync(string jobId, int attempt, JobProgress progress);

    Task<JobView?> GetAsync(string id);

    Task<JobPage> ListAsync(JobListQuery query);

    /// <summary>Cancels a queued or scheduled job; marks a running one as cancel-requested; refuses a finished one.</summary>
    Task<JobCommandResult> CancelAsync(string id, DateTimeOffset now);

    /// <summary>Puts a dead-lettered or cancelled job back in its queue with a fresh attempt budget.</summary>
    Task<JobCommandResult> RequeueAsync(string id, DateTimeOffset now);

    /// <summary>Deletes a finished job.</summary>
    Task<JobCommandResult> DeleteAsync(string id);

    /// <summary>Deletes finished jobs older than their retention; returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset now, RetentionPolicy retention, int max);

    /// <summary>How many jobs are in each state.</summary>
    Task<IReadOnlyDictionary<JobState, long>> CountByStateAsync();

    /// <summary>Throws when the store cannot be reached.</summary>
    Task PingAsync(CancellationToken cancellationToken);
}
