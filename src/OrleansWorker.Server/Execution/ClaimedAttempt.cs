using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// The live handle of one attempt: a grain keyed by job id and claim token, always activated on the silo that claimed
/// the attempt (<c>LocalSiloPlacement</c>) and known to no other silo's directory (<c>LocalOnlyGrainDirectory</c>) — a new
/// attempt never waits on an activation (or a directory partition) that lives on a silo that vanished.
/// </summary>
[Alias("OrleansWorker.IJobRunGrain")]
internal interface IJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the claimed attempt and returns once it is under way; false when it must not run on this silo (the silo
    /// is stopping, or the claim's owner name is no longer the silo's): the caller hands its job back.
    /// </summary>
    [Alias("Start")]
    Task<bool> StartAsync(ClaimedAttempt attempt);
}

/// <summary>An attempt a dispatcher claimed from the store, handed to its grain on the same silo.</summary>
[GenerateSerializer, Immutable, Alias("OrleansWorker.ClaimedAttempt")]
internal sealed record ClaimedAttempt
{
    [Id(0)] public required string JobId { get; init; }
    [Id(1)] public required string Type { get; init; }
    [Id(2)] public required string Queue { get; init; }
    [Id(3)] public string? Payload { get; init; }

    /// <summary>This attempt's number (from 1); interruptions that were not the job's fault do not use one up.</summary>
    [Id(4)] public int Attempt { get; init; }
    [Id(5)] public int MaxAttempts { get; init; }
    [Id(6)] public TimeSpan Timeout { get; init; }

    /// <summary>The lease holder: this silo's owner name (silo address and epoch).</summary>
    [Id(7)] public required string Owner { get; init; }
    [Id(8)] public DateTimeOffset StartedAt { get; init; }

    /// <summary>When the job last became ready (for the queue-wait metric).</summary>
    [Id(9)] public DateTimeOffset EnqueuedAt { get; init; }
    [Id(10)] public string? TraceParent { get; init; }
    [Id(11)] public int Priority { get; init; }

    /// <summary>Unique per claim: only the holder of the current token may store the attempt's outcome.</summary>
    [Id(12)] public long ClaimToken { get; init; }

    /// <summary>The job's first-in first-out sequence, kept when it goes back to its queue.</summary>
    [Id(13)] public long Seq { get; init; }
    [Id(14)] public int Interruptions { get; init; }
    [Id(15)] public int MaxInterruptions { get; init; }
    [Id(16)] public DateTimeOffset CreatedAt { get; init; }

    /// <summary>The claim holds one of its queue's concurrency permits, to give back when the attempt ends.</summary>
    [Id(17)] public bool HoldsPermit { get; init; }

    /// <summary>The batch the job belongs to.</summary>
    [Id(18)] public string? BatchId { get; init; }

    /// <summary>Some job waited for this one when it was claimed.</summary>
    [Id(19)] public bool HasDependents { get; init; }

    /// <summary>The grain key of this attempt: job id and claim token.</summary>
    public string GrainKey => KeyOf(JobId, ClaimToken);

    /// <summary>Names one attempt of a job: its id and the claim token of the attempt (the grain key; what a cancellation addresses).</summary>
    public static string KeyOf(string jobId, long claimToken) => $"{jobId}@{Tokens.Text(claimToken)}";
}
