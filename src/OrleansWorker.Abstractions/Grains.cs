using Orleans.Concurrency;

namespace OrleansWorker;

/// <summary>
/// The front door of the engine: a stateless worker on every silo that accepts submissions and answers
/// queries from the store.
/// </summary>
[Alias("OrleansWorker.IJobManagerGrain")]
public interface IJobManagerGrain : IGrainWithIntegerKey
{
    /// <summary>Validates and durably enqueues a batch as a whole: all accepted, or none.</summary>
    /// <param name="requests">The jobs.</param>
    /// <param name="notAfter">
    /// When set, the store refuses the write if its own clock has passed this time, so a caller that gave up by
    /// then can find out for sure whether the jobs were stored.
    /// </param>
    [Alias("Enqueue")]
    Task<EnqueueResponse> EnqueueAsync(IReadOnlyList<JobRequest> requests, DateTimeOffset? notAfter);

    [Alias("Get")]
    Task<JobView?> GetAsync(string id);

    [Alias("List")]
    Task<JobPage> ListAsync(JobListQuery query);

    [Alias("Cancel")]
    Task<JobCommandResult> CancelAsync(string id);

    [Alias("Retry")]
    Task<JobCommandResult> RetryAsync(string id);

    [Alias("Delete")]
    Task<JobCommandResult> DeleteAsync(string id);

    /// <summary>Waits until the job is finished or <paramref name="timeout"/> elapses; returns it as it is then.</summary>
    [Alias("Wait"), ResponseTimeout("00:01:30")]
    Task<JobView?> WaitAsync(string id, TimeSpan timeout);
}

/// <summary>The live handle of one job while an attempt runs: keyed by job id.</summary>
[Alias("OrleansWorker.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Starts the claimed attempt and returns once it is under way.</summary>
    [Alias("Start"), ResponseTimeout("00:00:10")]
    Task StartAsync(ClaimedAttempt attempt);

    /// <summary>Fires the running attempt's cancellation token, if an attempt runs here.</summary>
    [Alias("Cancel"), AlwaysInterleave]
    Task<bool> CancelAsync();

    /// <summary>Completes when the running attempt (if any) has ended and its outcome is stored.</summary>
    [Alias("WaitForAttempt"), AlwaysInterleave]
    Task WaitForAttemptAsync(TimeSpan timeout);
}

/// <summary>An attempt a dispatcher claimed from the store, handed to the job's grain.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.ClaimedAttempt")]
public sealed record ClaimedAttempt
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required string Queue { get; init; }
    [Id(3)] public string? Payload { get; init; }
    [Id(4)] public int Attempt { get; init; }
    [Id(5)] public int MaxAttempts { get; init; }
    [Id(6)] public TimeSpan Timeout { get; init; }

    /// <summary>The silo that holds the lease (parsable silo address).</summary>
    [Id(7)] public required string Owner { get; init; }
    [Id(8)] public DateTimeOffset StartedAt { get; init; }
    [Id(9)] public DateTimeOffset EnqueuedAt { get; init; }
    [Id(10)] public string? TraceParent { get; init; }
    [Id(11)] public int Priority { get; init; }

    /// <summary>Unique per claim: only the holder of the current token may store the attempt's outcome.</summary>
    [Id(12)] public long ClaimToken { get; init; }
}
