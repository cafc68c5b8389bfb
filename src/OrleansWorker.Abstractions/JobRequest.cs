namespace OrleansWorker;

/// <summary>A request to run a job.</summary>
/// <param name="Type">The name of the handler that runs the job.</param>
/// <param name="Payload">The job's input as JSON text; <see langword="null"/> means JSON <c>null</c>.</param>
[GenerateSerializer, Immutable, Alias("OrleansWorker.JobRequest")]
public sealed record JobRequest(
    [property: Id(0)] string Type,
    [property: Id(1)] string? Payload = null)
{
    /// <summary>Caller-chosen id (1–200 characters of <c>[A-Za-z0-9._:-]</c>); generated when absent.</summary>
    [Id(2)] public string? Id { get; init; }

    /// <summary>Queue name; <c>default</c> when absent.</summary>
    [Id(3)] public string? Queue { get; init; }

    /// <summary>Higher runs first within its queue. Range −1000..1000; default 0.</summary>
    [Id(4)] public int Priority { get; init; }

    /// <summary>Attempts before the job is dead-lettered (1..100); the silo's default (5) when absent.</summary>
    [Id(5)] public int? MaxAttempts { get; init; }

    /// <summary>Per-attempt timeout; the silo's default (5 min) when absent.</summary>
    [Id(6)] public TimeSpan? Timeout { get; init; }

    /// <summary>Earliest start time. Exclusive with <see cref="Delay"/>.</summary>
    [Id(7)] public DateTimeOffset? RunAt { get; init; }

    /// <summary>Start no sooner than this long after submission. Exclusive with <see cref="RunAt"/>.</summary>
    [Id(8)] public TimeSpan? Delay { get; init; }

    /// <summary>The submitter's W3C <c>traceparent</c>; the client fills it from <c>Activity.Current</c>.</summary>
    [Id(9)] public string? TraceParent { get; init; }

    /// <summary>
    /// Deduplication: while a job with this key is queued, scheduled, waiting or running (and, with
    /// <see cref="UniqueFor"/>, for that long after it finished), submitting another with the same key returns that
    /// job instead of creating one. Unlike <see cref="Id"/> (the same id is the same job, forever), the key names
    /// "this piece of work is pending": once the job is done, the key is free again.
    /// </summary>
    [Id(10)] public string? UniqueKey { get; init; }

    /// <summary>How long after the job finished its <see cref="UniqueKey"/> still dedupes. Default: not at all.</summary>
    [Id(11)] public TimeSpan? UniqueFor { get; init; }

    /// <summary>
    /// Ids of jobs (existing, or in the same submission) this one waits for: it stays <c>Waiting</c> until all of them
    /// succeeded. If one ends DeadLettered or Cancelled, this one ends Cancelled naming it — unless
    /// <see cref="ContinueOnDependencyFailure"/>.
    /// </summary>
    [Id(12)] public IReadOnlyList<string>? DependsOn { get; init; }

    /// <summary>Run once the dependencies finished, whatever their outcome.</summary>
    [Id(13)] public bool ContinueOnDependencyFailure { get; init; }
}
