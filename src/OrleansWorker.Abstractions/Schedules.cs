namespace OrleansWorker;

/// <summary>What a recurring job does when the cluster missed ticks by more than the misfire threshold (it was down).</summary>
[GenerateSerializer, Alias("OrleansWorker.MisfirePolicy")]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<MisfirePolicy>))]
public enum MisfirePolicy
{
    /// <summary>Fire once, for the latest missed tick, then continue with the next one.</summary>
    FireOnce = 0,

    /// <summary>Skip the missed ticks; continue with the next one.</summary>
    Skip = 1,
}

/// <summary>What a recurring job does when a tick comes while the previous tick's job is still queued or running.</summary>
[GenerateSerializer, Alias("OrleansWorker.OverlapPolicy")]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<OverlapPolicy>))]
public enum OverlapPolicy
{
    /// <summary>Fire anyway: jobs of two ticks may run at once.</summary>
    Allow = 0,

    /// <summary>Skip the tick (counted as a skip).</summary>
    Skip = 1,
}

/// <summary>A recurring job: a cron expression in a time zone and the job to submit at each tick.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.ScheduleDefinition")]
public sealed record ScheduleDefinition
{
    /// <summary>The schedule's id (1–100 characters of <c>[A-Za-z0-9._-]</c>); its jobs' ids are <c>{id}::{tick}</c>.</summary>
    [Id(0)] public required string Id { get; init; }

    /// <summary>Cron: 5 fields (minute hour day month weekday) or 6 with seconds first. Parsed by Cronos.</summary>
    [Id(1)] public required string Cron { get; init; }

    /// <summary>IANA time zone the cron is read in (e.g. <c>Europe/London</c>); daylight saving handled as Cronos documents. Default: UTC.</summary>
    [Id(2)] public string TimeZone { get; init; } = "UTC";

    /// <summary>The job each tick submits (its id is derived; type, payload, queue, priority, attempts and timeout come from here).</summary>
    [Id(3)] public required JobRequest Job { get; init; }

    /// <summary>While paused, no tick fires; resuming continues with the next tick after the resume.</summary>
    [Id(4)] public bool Paused { get; init; }

    [Id(5)] public MisfirePolicy Misfire { get; init; }

    [Id(6)] public OverlapPolicy Overlap { get; init; }

    /// <summary>No tick before this time.</summary>
    [Id(7)] public DateTimeOffset? StartAt { get; init; }

    /// <summary>No tick after this time.</summary>
    [Id(8)] public DateTimeOffset? EndAt { get; init; }
}

/// <summary>A recurring job as stored: its definition, its last fire (and that job's state) and its next tick.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.ScheduleView")]
public sealed record ScheduleView
{
    [Id(0)] public required ScheduleDefinition Definition { get; init; }

    /// <summary>The tick of the last job it submitted (null before the first).</summary>
    [Id(1)] public DateTimeOffset? LastFire { get; init; }

    /// <summary>The id of the job the last fire submitted.</summary>
    [Id(2)] public string? LastJobId { get; init; }

    /// <summary>That job's state now (null once it is gone).</summary>
    [Id(3)] public JobState? LastJobState { get; init; }

    /// <summary>The next tick (null while paused or past its end).</summary>
    [Id(4)] public DateTimeOffset? NextFire { get; init; }
}

/// <summary>The answer to a schedule change: the schedule as it is now, or what was wrong.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.ScheduleResult")]
public sealed record ScheduleResult([property: Id(0)] JobCommandStatus Status, [property: Id(1)] ScheduleView? Schedule, [property: Id(2)] IReadOnlyList<string> Errors);

/// <summary>A batch to submit: jobs, and optionally a job to run once when every one of them finished.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.BatchRequest")]
public sealed record BatchRequest
{
    /// <summary>The batch id (1–100 characters of <c>[A-Za-z0-9._-]</c>); generated when absent. Member ids default to <c>{id}::{n}</c>.</summary>
    [Id(0)] public string? Id { get; init; }

    [Id(1)] public IReadOnlyList<JobRequest> Jobs { get; init; } = [];

    /// <summary>
    /// Runs once every member finished (whatever their outcome); its payload is <c>{batchId, total, succeeded,
    /// deadLettered, cancelled}</c> unless it has one of its own. Its id is <c>{batch id}::complete</c>.
    /// </summary>
    [Id(2)] public JobRequest? Completion { get; init; }
}

/// <summary>A batch's progress.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.BatchView")]
public sealed record BatchView
{
    [Id(0)] public required string Id { get; init; }

    [Id(1)] public int Total { get; init; }

    [Id(2)] public int Succeeded { get; init; }

    [Id(3)] public int DeadLettered { get; init; }

    [Id(4)] public int Cancelled { get; init; }

    /// <summary>Whether every member finished.</summary>
    [Id(5)] public bool Finished { get; init; }

    /// <summary>The completion job's id, once submitted (or if the batch has one: <c>{id}::complete</c>).</summary>
    [Id(6)] public string? CompletionJobId { get; init; }

    [Id(7)] public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>The answer to a batch submission.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.BatchResponse")]
public sealed record BatchResponse(
    [property: Id(0)] BatchView? Batch,
    [property: Id(1)] IReadOnlyList<EnqueueResult> Jobs,
    [property: Id(2)] IReadOnlyList<JobValidationError> Errors)
{
    public bool Accepted => Errors.Count == 0;
}
