using System.Text.Json.Serialization;

namespace OrleansWorker;

/// <summary>The lifecycle state of a job.</summary>
[GenerateSerializer, Alias("OrleansWorker.JobState")]
[JsonConverter(typeof(JsonStringEnumConverter<JobState>))]
public enum JobState
{
    /// <summary>Ready to run; waiting for a free slot on some silo.</summary>
    Queued = 0,

    /// <summary>Waiting for its run-at time or for a retry backoff to elapse.</summary>
    Scheduled = 1,

    /// <summary>An attempt is executing on a silo.</summary>
    Running = 2,

    /// <summary>An attempt completed successfully. Final.</summary>
    Succeeded = 3,

    /// <summary>Every attempt failed; kept for inspection and requeue. Final until requeued.</summary>
    DeadLettered = 4,

    /// <summary>Cancelled by a caller. Final until requeued.</summary>
    Cancelled = 5,

    /// <summary>Waiting for the jobs it depends on to succeed.</summary>
    Waiting = 6,
}

/// <summary>Helpers over <see cref="JobState"/>.</summary>
public static class JobStates
{
    /// <summary>Every state, in declaration order.</summary>
    public static IReadOnlyList<JobState> All { get; } = Enum.GetValues<JobState>();

    /// <summary>Whether <paramref name="state"/> is final (no attempt will start without a requeue).</summary>
    public static bool IsFinished(this JobState state) =>
        state is JobState.Succeeded or JobState.DeadLettered or JobState.Cancelled;
}
