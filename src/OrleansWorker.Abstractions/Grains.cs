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

    /// <summary>Every queue with its settings and counts.</summary>
    [Alias("Queues")]
    Task<IReadOnlyList<QueueView>> GetQueuesAsync();

    /// <summary>Changes a queue's settings (validated: every problem is reported).</summary>
    [Alias("UpdateQueue")]
    Task<QueueUpdateResult> UpdateQueueAsync(string name, QueueSettingsUpdate update);

    /// <summary>Submits a batch of jobs with an optional completion job, as a whole.</summary>
    [Alias("EnqueueBatch")]
    Task<BatchResponse> EnqueueBatchAsync(BatchRequest batch, DateTimeOffset? notAfter);

    [Alias("GetBatch")]
    Task<BatchView?> GetBatchAsync(string id);

    /// <summary>Creates or updates a recurring job (validated: cron, time zone, job).</summary>
    [Alias("PutSchedule")]
    Task<ScheduleResult> PutScheduleAsync(ScheduleDefinition schedule);

    [Alias("GetSchedule")]
    Task<ScheduleView?> GetScheduleAsync(string id);

    [Alias("Schedules")]
    Task<IReadOnlyList<ScheduleView>> GetSchedulesAsync();

    /// <summary>Pauses, resumes, triggers (submits a job now) or deletes a schedule.</summary>
    [Alias("ScheduleCommand")]
    Task<ScheduleResult> ScheduleCommandAsync(string id, ScheduleCommand command);

    /// <summary>Jobs by state and queue, and the silos.</summary>
    [Alias("Stats")]
    Task<JobStats> GetStatsAsync();

    /// <summary>
    /// The earliest the store's clock (the one a submission's <c>notAfter</c> is judged by) can read now, by this silo's
    /// last reading of it; null before the silo has read it. Clients set that deadline on it rather than on their own clock.
    /// </summary>
    [Alias("Time")]
    Task<DateTimeOffset?> GetTimeAsync();

    /// <summary>Waits until the job is finished or <paramref name="timeout"/> elapses; returns it as it is then.</summary>
    [Alias("Wait"), ResponseTimeout("00:01:30")]
    Task<JobView?> WaitAsync(string id, TimeSpan timeout);
}

/// <summary>A command on a recurring job.</summary>
[GenerateSerializer, Alias("OrleansWorker.ScheduleCommand")]
public enum ScheduleCommand
{
    Pause = 0,
    Resume = 1,

    /// <summary>Submit a job from the schedule's template now (the schedule's ticks are unchanged).</summary>
    Trigger = 2,
    Delete = 3,
}
