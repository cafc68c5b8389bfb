using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace OrleansWorker.Client;

/// <summary>How to run one job: everything of a <see cref="JobRequest"/> but its type and payload.</summary>
public sealed record JobOptions
{
    /// <summary>Caller-chosen id (1–200 characters of <c>[A-Za-z0-9._:-]</c>); submitting it again returns the existing job. Generated when absent.</summary>
    public string? Id { get; init; }

    /// <summary>Queue; <c>default</c> when absent.</summary>
    public string? Queue { get; init; }

    /// <summary>Higher runs first within its queue (−1000..1000).</summary>
    public int Priority { get; init; }

    /// <summary>Start no sooner than this long after submission. Exclusive with <see cref="RunAt"/>.</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Earliest start. Exclusive with <see cref="Delay"/>.</summary>
    public DateTimeOffset? RunAt { get; init; }

    /// <summary>Attempts before the job is dead-lettered; the worker's default (5) when absent.</summary>
    public int? MaxAttempts { get; init; }

    /// <summary>Per-attempt timeout; the worker's default (5 min) when absent.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Deduplication key: while a job with it is pending, submitting returns that job (see <see cref="JobRequest.UniqueKey"/>).</summary>
    public string? UniqueKey { get; init; }

    /// <summary>How long after finishing the job keeps its unique key.</summary>
    public TimeSpan? UniqueFor { get; init; }

    internal JobRequest ToRequest(string type, string? payload) => new(type, payload)
    {
        Id = Id,
        Queue = Queue,
        Priority = Priority,
        Delay = Delay,
        RunAt = RunAt,
        MaxAttempts = MaxAttempts,
        Timeout = Timeout,
        UniqueKey = UniqueKey,
        UniqueFor = UniqueFor,
    };
}

/// <summary>A job ended without success (DeadLettered or Cancelled) while a caller waited for its result.</summary>
public sealed class JobFailedException : Exception
{
    public JobFailedException()
        : this("The job did not succeed.")
    {
    }

    public JobFailedException(string message)
        : base(message)
    {
    }

    public JobFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    public JobFailedException(JobView job)
        : base($"Job {job.Id} ended {job.State}{(job.LastError is { } e ? $": {e.Type}: {e.Message}" : ".")}")
    {
        Job = job;
    }

    /// <summary>The job as it ended.</summary>
    public JobView? Job { get; }
}

/// <summary>Typed submissions and results over <see cref="IJobClient"/>: payloads and results as .NET types, JSON underneath.</summary>
public static class TypedJobClientExtensions
{
    /// <summary>
    /// Submits a job whose type is named after <typeparamref name="TPayload"/> (its <see cref="JobNameAttribute"/>, else
    /// its type name — the name a handler of that payload is registered under by default).
    /// </summary>
    public static Task<EnqueueResult> EnqueueAsync<TPayload>(this IJobClient client, TPayload payload, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        client.EnqueueAsync(JobNames.ForPayload<TPayload>(), payload, options, cancellationToken);

    /// <summary>Submits a job of type <paramref name="jobType"/> with a typed payload (camelCase JSON).</summary>
    public static Task<EnqueueResult> EnqueueAsync<TPayload>(this IJobClient client, string jobType, TPayload payload, JobOptions? options = null, CancellationToken cancellationToken = default) =>
        client.EnqueueAsync(jobType, payload, (JsonTypeInfo<TPayload>)JobContext.JsonOptions.GetTypeInfo(typeof(TPayload)), options, cancellationToken);

    /// <summary>Submits a job with a payload serialised by <paramref name="typeInfo"/> (source-generated, trim and AOT friendly).</summary>
    public static Task<EnqueueResult> EnqueueAsync<TPayload>(this IJobClient client, string jobType, TPayload payload, JsonTypeInfo<TPayload> typeInfo, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(typeInfo);
        return client.EnqueueAsync((options ?? new JobOptions()).ToRequest(jobType, JsonSerializer.Serialize(payload, typeInfo)), cancellationToken);
    }

    /// <summary>
    /// Submits a job for the handler <typeparamref name="THandler"/>, under its default name (<see cref="JobNames.ForHandler{THandler}"/>);
    /// <typeparamref name="TPayload"/> must be what the handler takes.
    /// </summary>
    public static Task<EnqueueResult> EnqueueAsync<THandler, TPayload>(this IJobClient client, TPayload payload, JobOptions? options = null, CancellationToken cancellationToken = default)
    {
        var expected = JobNames.PayloadTypeOf(typeof(THandler));
        if (expected is null || !expected.IsAssignableFrom(typeof(TPayload)))
        {
            throw new ArgumentException($"{typeof(THandler)} takes {(expected?.ToString() ?? "no typed payload")}, not {typeof(TPayload)}.", nameof(payload));
        }

        return client.EnqueueAsync(JobNames.ForHandler<THandler>(), payload, options, cancellationToken);
    }

    /// <summary>The job's result, deserialised (default when it has none).</summary>
    public static TResult? GetResult<TResult>(this JobView job) =>
        job.GetResult((JsonTypeInfo<TResult>)JobContext.JsonOptions.GetTypeInfo(typeof(TResult)));

    /// <summary>The job's result, deserialised by <paramref name="typeInfo"/> (default when it has none).</summary>
    public static TResult? GetResult<TResult>(this JobView job, JsonTypeInfo<TResult> typeInfo)
    {
        ArgumentNullException.ThrowIfNull(job);
        return job.Result is null ? default : JsonSerializer.Deserialize(job.Result, typeInfo);
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the job to finish and returns its result; throws
    /// <see cref="JobFailedException"/> when it ends DeadLettered or Cancelled, <see cref="TimeoutException"/> when it is
    /// still running at the end.
    /// </summary>
    public static Task<TResult?> WaitForResultAsync<TResult>(this IJobClient client, string id, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        client.WaitForResultAsync(id, timeout, (JsonTypeInfo<TResult>)JobContext.JsonOptions.GetTypeInfo(typeof(TResult)), cancellationToken);

    /// <summary>As <see cref="WaitForResultAsync{TResult}(IJobClient, string, TimeSpan, CancellationToken)"/>, deserialising with <paramref name="typeInfo"/>.</summary>
    public static async Task<TResult?> WaitForResultAsync<TResult>(this IJobClient client, string id, TimeSpan timeout, JsonTypeInfo<TResult> typeInfo, CancellationToken cancellationToken = default)
    {
        var job = await client.WaitUntilFinishedAsync(id, timeout, cancellationToken);
        return job.State == JobState.Succeeded ? job.GetResult(typeInfo) : throw new JobFailedException(job);
    }

    /// <summary>Waits (as long as <paramref name="timeout"/>, in calls of at most 60 s) until the job is finished.</summary>
    public static async Task<JobView> WaitUntilFinishedAsync(this IJobClient client, string id, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var left = timeout - TimeProvider.System.GetElapsedTime(started);
            var job = await client.WaitAsync(id, left < TimeSpan.Zero ? TimeSpan.Zero : left, cancellationToken)
                ?? throw new InvalidOperationException($"No job has the id '{id}'.");
            if (job.State.IsFinished())
            {
                return job;
            }

            if (TimeProvider.System.GetElapsedTime(started) >= timeout)
            {
                throw new TimeoutException($"Job {id} was still {job.State} after {timeout}.");
            }
        }
    }
}
