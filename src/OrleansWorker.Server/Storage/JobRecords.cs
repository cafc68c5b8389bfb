using OrleansWorker.Execution;

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

    /// <summary>Interruptions (its silo vanished or lost its lease) before the job is dead-lettered.</summary>
    public int MaxInterruptions { get; init; } = 5;

    /// <summary>First-in first-out order within its priority (see <see cref="SequenceGenerator"/>).</summary>
    public long Seq { get; init; }

    /// <summary>Deduplication key (see <see cref="JobRequest.UniqueKey"/>).</summary>
    public string? UniqueKey { get; init; }

    /// <summary>How long after it finished the job still holds its unique key.</summary>
    public TimeSpan UniqueFor { get; init; }

    /// <summary>The jobs it waits for (it starts Waiting).</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>Run once the dependencies finished, whatever their outcome.</summary>
    public bool ContinueOnDependencyFailure { get; init; }

    /// <summary>The recurring job that submitted it.</summary>
    public string? ScheduleId { get; init; }

    /// <summary>The batch it belongs to.</summary>
    public string? BatchId { get; init; }
}

/// <summary>What decisions about a stored job need to know, read in one go (<see cref="JobFields.Snapshot"/>).</summary>
internal sealed record JobSnapshot(
    string Id,
    string Type,
    string Queue,
    int Priority,
    long Seq,
    JobState State,
    long Token,
    int Attempt,
    int MaxAttempts,
    int Interruptions,
    int MaxInterruptions,
    string? Owner,
    bool CancelRequested,
    DateTimeOffset? RunAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset Since)
{
    /// <summary>The batch it belongs to.</summary>
    public string? BatchId { get; init; }

    /// <summary>Some job waits for this one (set when the first dependent was submitted).</summary>
    public bool HasDependents { get; init; }

    /// <summary>It runs once its dependencies finished, whatever their outcome.</summary>
    public bool ContinueOnDependencyFailure { get; init; }

    /// <summary>The jobs it waits for (as submitted).</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>Its unique key, if it was submitted with one.</summary>
    public string? UniqueKey { get; init; }
}

/// <summary>What a transition does besides changing state.</summary>
internal enum TransitionKind
{
    /// <summary>Moves the job to <see cref="JobTransition.To"/> (possibly the same state with a new token).</summary>
    Move = 0,

    /// <summary>Marks a running job cancel-requested and tells its owner; the state stays Running.</summary>
    CancelFlag = 1,

    /// <summary>Deletes the job.</summary>
    Delete = 2,
}

/// <summary>
/// A decided change to one job, applied by the store only if the job still has <see cref="JobSnapshot.Token"/>
/// (and, with <see cref="HonorCancel"/>, no cancellation was requested meanwhile). Made by <c>JobRules</c> only.
/// </summary>
internal sealed record JobTransition(JobSnapshot Job, JobState To, DateTimeOffset Now)
{
    public TransitionKind Kind { get; init; } = TransitionKind.Move;

    /// <summary>Refuse (with <see cref="ApplyOutcome.CancelRequested"/>) if the job's cancellation was requested meanwhile.</summary>
    public bool HonorCancel { get; init; }

    /// <summary>When a Scheduled job becomes due.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>The job's new attempt count, when it changes.</summary>
    public int? Attempt { get; init; }

    /// <summary>The job's new interruption count, when it changes.</summary>
    public int? Interruptions { get; init; }

    /// <summary>The claim token an interruption took away, remembered so that a silo that was only cut off can give the interruption back.</summary>
    public long? InterruptedToken { get; init; }

    public string? Result { get; init; }

    public JobError? Error { get; init; }

    /// <summary>An attempt to add to the job's history.</summary>
    public JobAttempt? Record { get; init; }

    /// <summary>Starts the job afresh (a requeue of a finished job): clears cancel-requested, the finish time and the result.</summary>
    public bool Reset { get; init; }
}

/// <summary>What applying a transition did.</summary>
internal enum ApplyOutcome
{
    Applied = 0,

    /// <summary>The job moved on (another token) or is gone: nothing changed.</summary>
    Stale = 1,

    /// <summary>Cancellation was requested meanwhile and the transition honours it: nothing changed.</summary>
    CancelRequested = 2,

    /// <summary>A requeue found the job's unique key held by another job (pending, or finished within its uniqueFor): nothing changed.</summary>
    UniqueKeyTaken = 3,
}

/// <summary>Retention of finished jobs.</summary>
internal sealed record RetentionPolicy(TimeSpan Succeeded, TimeSpan Cancelled, TimeSpan DeadLettered)
{
    public TimeSpan For(JobState state) => state switch
    {
        JobState.Succeeded => Succeeded,
        JobState.Cancelled => Cancelled,
        _ => DeadLettered,
    };
}

/// <summary>An owner (a silo incarnation and epoch) in one shard.</summary>
internal readonly record struct ShardOwner(int Shard, string Owner);

/// <summary>What a claim returned.</summary>
internal sealed record ClaimOutcome(bool Revoked, IReadOnlyList<ClaimedAttempt> Attempts)
{
    public static readonly ClaimOutcome RevokedOwner = new(true, []);
}
