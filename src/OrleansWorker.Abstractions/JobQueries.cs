namespace OrleansWorker;

/// <summary>Filters and paging for listing jobs.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobListQuery")]
public sealed record JobListQuery
{
    [Id(0)] public JobState? State { get; init; }
    [Id(1)] public string? Queue { get; init; }
    [Id(2)] public string? Type { get; init; }

    /// <summary>Page size, 1..1000; 100 by default.</summary>
    [Id(3)] public int Limit { get; init; } = 100;

    /// <summary>The <see cref="JobPage.NextCursor"/> of the previous page.</summary>
    [Id(4)] public string? Cursor { get; init; }
}

/// <summary>
/// One page of a job listing: Queued in run order, Scheduled soonest due first, Running most recently started first,
/// Waiting newest first, finished states most recently finished first; without a state, those in turn (running, queued,
/// scheduled, waiting, then the finished states together). Without a state, a job that changes state between two
/// pages may come twice or not at all; to follow given jobs, get them by id.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobPage")]
public sealed record JobPage(
    [property: Id(0)] IReadOnlyList<JobView> Items,
    [property: Id(1)] string? NextCursor);

/// <summary>The answer to a submission of one job.</summary>
/// <param name="Id">The job's id.</param>
/// <param name="State">Its state after the submission.</param>
/// <param name="Created"><see langword="false"/> when a job with that id already existed.</param>
[GenerateSerializer, Immutable, Alias("OrleansWorker.EnqueueResult")]
public sealed record EnqueueResult(
    [property: Id(0)] string Id,
    [property: Id(1)] JobState State,
    [property: Id(2)] bool Created);

/// <summary>What is wrong with one request of a submission.</summary>
/// <param name="Index">Position of the request in the batch.</param>
/// <param name="Field">The offending field (camelCase, as in the HTTP API).</param>
/// <param name="Code">A stable code, e.g. <c>payload_too_large</c>.</param>
/// <param name="Message">What was wrong, with the actual value.</param>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobValidationError")]
public sealed record JobValidationError(
    [property: Id(0)] int Index,
    [property: Id(1)] string Field,
    [property: Id(2)] string Code,
    [property: Id(3)] string Message);

/// <summary>The answer to a submission: every job accepted, or none and the reasons.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.EnqueueResponse")]
public sealed record EnqueueResponse(
    [property: Id(0)] IReadOnlyList<EnqueueResult> Results,
    [property: Id(1)] IReadOnlyList<JobValidationError> Errors)
{
    /// <summary>Whether the submission was accepted.</summary>
    public bool Accepted => Errors.Count == 0;
}

/// <summary>The outcome of a command on one job (cancel, retry, delete).</summary>
[GenerateSerializer, Alias("OrleansWorker.JobCommandStatus")]
public enum JobCommandStatus
{
    /// <summary>Done.</summary>
    Ok = 0,

    /// <summary>No job has that id.</summary>
    NotFound = 1,

    /// <summary>The job's state does not allow the command.</summary>
    Conflict = 2,

    /// <summary>The request is not valid (the errors say why).</summary>
    Invalid = 3,
}

/// <summary>The answer to a command on one job, with the job as it is afterwards.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobCommandResult")]
public sealed record JobCommandResult(
    [property: Id(0)] JobCommandStatus Status,
    [property: Id(1)] JobView? Job,
    [property: Id(2)] string? Reason = null);

/// <summary>The cluster at a glance: jobs by state and queue, and the silos with what they run.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobStats")]
public sealed record JobStats
{
    /// <summary>Jobs in each state, over every queue.</summary>
    [Id(0)] public IReadOnlyDictionary<JobState, long> States { get; init; } = new Dictionary<JobState, long>();

    /// <summary>Per queue: jobs in each state.</summary>
    [Id(1)] public IReadOnlyList<QueueStats> Queues { get; init; } = [];

    /// <summary>The silos that reported in the last minute.</summary>
    [Id(2)] public IReadOnlyList<SiloStats> Silos { get; init; } = [];

    /// <summary>When these figures were read.</summary>
    [Id(3)] public DateTimeOffset At { get; init; }
}

/// <summary>One queue's jobs by state.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.QueueStats")]
public sealed record QueueStats
{
    [Id(0)] public required string Name { get; init; }

    [Id(1)] public IReadOnlyDictionary<JobState, long> States { get; init; } = new Dictionary<JobState, long>();
}

/// <summary>One silo as it last reported (every lease renewal, ~2 s).</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.SiloStats")]
public sealed record SiloStats
{
    /// <summary>The silo's address.</summary>
    [Id(0)] public required string Address { get; init; }

    /// <summary>Attempts running on it.</summary>
    [Id(1)] public int Running { get; init; }

    /// <summary>Attempts it runs at most at once (<c>Worker:MaxConcurrentJobs</c>).</summary>
    [Id(2)] public int Capacity { get; init; }

    /// <summary>The queues it takes from (empty: all).</summary>
    [Id(3)] public IReadOnlyList<string> Queues { get; init; } = [];

    /// <summary>Attempts that ended on it since it started: succeeded, and failed (failed, timed out, dead-lettered).</summary>
    [Id(4)] public long Succeeded { get; init; }

    [Id(5)] public long Failed { get; init; }

    /// <summary>When it reported.</summary>
    [Id(6)] public DateTimeOffset At { get; init; }

    /// <summary>
    /// The newest layout of the job store it reads: 4 since 0.4.3 (no <c>ok</c> field written at success), 3 in 0.4.2 (no
    /// index of every job, no <c>since</c> written at claim), 2 in 0.4 and 0.4.1 (a job's definition in one field),
    /// absent (0) from silos of 0.3 and earlier, which read only layout 1. Silos write the oldest layout a silo of the
    /// cluster reads.
    /// </summary>
    [Id(7)] public int StoreLayout { get; init; }
}
