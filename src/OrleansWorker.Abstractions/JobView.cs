namespace OrleansWorker;

/// <summary>A job as stored: its request, state, attempts and outcome.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobView")]
public sealed record JobView
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required string Queue { get; init; }
    [Id(3)] public int Priority { get; init; }
    [Id(4)] public JobState State { get; init; }

    /// <summary>Number of the current or last attempt; 0 before the first one starts.</summary>
    [Id(5)] public int Attempt { get; init; }
    [Id(6)] public int MaxAttempts { get; init; }
    [Id(7)] public TimeSpan Timeout { get; init; }
    [Id(8)] public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the job becomes (or became) due: its run-at time or the end of a retry backoff.</summary>
    [Id(9)] public DateTimeOffset? RunAt { get; init; }
    [Id(10)] public DateTimeOffset? StartedAt { get; init; }
    [Id(11)] public DateTimeOffset? FinishedAt { get; init; }
    [Id(12)] public JobProgress? Progress { get; init; }

    /// <summary>The handler's result as JSON text.</summary>
    [Id(13)] public string? Result { get; init; }
    [Id(14)] public JobError? LastError { get; init; }

    /// <summary>The W3C trace id of the submitter's trace.</summary>
    [Id(15)] public string? TraceId { get; init; }
    [Id(16)] public string? Payload { get; init; }
    [Id(17)] public IReadOnlyList<JobAttempt> Attempts { get; init; } = [];
    [Id(18)] public bool CancelRequested { get; init; }

    /// <summary>The silo running the current attempt (while Running).</summary>
    [Id(19)] public string? Silo { get; init; }

    /// <summary>Attempts cut short because their silo vanished or lost its lease; they do not use up <see cref="MaxAttempts"/>.</summary>
    [Id(20)] public int Interruptions { get; init; }

    /// <summary>Interruptions before the job is dead-lettered (a job that takes its silo down every time ends there).</summary>
    [Id(21)] public int MaxInterruptions { get; init; }

    /// <summary>The recurring job that submitted this one, if any.</summary>
    [Id(22)] public string? ScheduleId { get; init; }

    /// <summary>The batch this job belongs to, if any.</summary>
    [Id(23)] public string? BatchId { get; init; }

    /// <summary>The jobs this one waits for (see <see cref="JobRequest.DependsOn"/>).</summary>
    [Id(24)] public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>The unique key it holds, if any.</summary>
    [Id(25)] public string? UniqueKey { get; init; }
}

/// <summary>Progress reported by a running handler.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobProgress")]
public sealed record JobProgress([property: Id(0)] int Percent, [property: Id(1)] string? Message);

/// <summary>What went wrong in an attempt: the exception's type and message, and (in the attempt history) its stack trace.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobError")]
public sealed record JobError([property: Id(0)] string Type, [property: Id(1)] string Message, [property: Id(2)] string? StackTrace = null);

/// <summary>One attempt of a job.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobAttempt")]
public sealed record JobAttempt
{
    [Id(0)] public int Number { get; init; }
    [Id(1)] public DateTimeOffset StartedAt { get; init; }
    [Id(2)] public DateTimeOffset? EndedAt { get; init; }

    /// <summary>The silo that ran the attempt.</summary>
    [Id(3)] public string? Silo { get; init; }

    /// <summary>How the attempt ended.</summary>
    [Id(4)] public AttemptOutcome Outcome { get; init; }
    [Id(5)] public JobError? Error { get; init; }
}

/// <summary>How an attempt ended.</summary>
[GenerateSerializer, Alias("OrleansWorker.AttemptOutcome")]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<AttemptOutcome>))]
public enum AttemptOutcome
{
    /// <summary>The handler returned.</summary>
    Succeeded = 0,

    /// <summary>The handler threw.</summary>
    Failed = 1,

    /// <summary>The handler exceeded the job's timeout.</summary>
    TimedOut = 2,

    /// <summary>The attempt was cut short: its silo died or shut down before it finished.</summary>
    Interrupted = 3,

    /// <summary>The job was cancelled while the attempt ran.</summary>
    Cancelled = 4,

    /// <summary>The handler reported that a remote side rate-limited it; the job runs again later without using up an attempt.</summary>
    RateLimited = 5,
}
