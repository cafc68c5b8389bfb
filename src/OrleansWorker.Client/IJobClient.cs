namespace OrleansWorker.Client;

/// <summary>Submits and manages jobs. Every call has a deadline (<see cref="JobClientOptions.CallTimeout"/>).</summary>
public interface IJobClient
{
    /// <summary>Submits one job; returns once it is durable. An existing id returns that job (Created = false).</summary>
    /// <exception cref="JobValidationException">The request is invalid.</exception>
    /// <exception cref="JobServiceUnavailableException">The cluster or its store did not answer in time.</exception>
    Task<EnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default);

    /// <summary>Submits a batch as a whole: every job is accepted, or none is and the errors say why.</summary>
    Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IReadOnlyList<JobRequest> requests, CancellationToken cancellationToken = default);

    /// <summary>The job, or null if no job has that id.</summary>
    Task<JobView?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>One page of jobs, in the order of their state (see <see cref="JobPage"/>).</summary>
    Task<JobPage> ListAsync(JobListQuery query, CancellationToken cancellationToken = default);

    /// <summary>Every queue with its settings (pause, limits) and how many of its jobs are in each state.</summary>
    Task<IReadOnlyList<QueueView>> GetQueuesAsync(CancellationToken cancellationToken = default);

    /// <summary>Changes a queue's settings; every silo follows without a restart.</summary>
    /// <exception cref="JobValidationException">A setting is out of range; the errors say which.</exception>
    Task<QueueView> UpdateQueueAsync(string name, QueueSettingsUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// Submits a batch as a whole (every job, or none and the errors say why), with an optional completion job that runs
    /// once every member finished. Resubmitting a batch id returns the existing batch.
    /// </summary>
    /// <exception cref="JobValidationException">A job or the batch is invalid.</exception>
    Task<BatchResponse> EnqueueBatchAsync(BatchRequest batch, CancellationToken cancellationToken = default);

    /// <summary>A batch's progress, or null.</summary>
    Task<BatchView?> GetBatchAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every recurring job, in creation order.</summary>
    Task<IReadOnlyList<ScheduleView>> GetSchedulesAsync(CancellationToken cancellationToken = default);

    /// <summary>A recurring job, or null.</summary>
    Task<ScheduleView?> GetScheduleAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Creates or replaces a recurring job.</summary>
    /// <exception cref="JobValidationException">The cron, time zone or job is invalid; the errors say what.</exception>
    Task<ScheduleView> PutScheduleAsync(ScheduleDefinition schedule, CancellationToken cancellationToken = default);

    /// <summary>Pauses, resumes, triggers (a job now) or deletes a recurring job.</summary>
    Task<ScheduleResult> ScheduleCommandAsync(string id, ScheduleCommand command, CancellationToken cancellationToken = default);

    /// <summary>Jobs by state and queue, and the silos with what they run.</summary>
    Task<JobStats> GetStatsAsync(CancellationToken cancellationToken = default);

    /// <summary>Cancels a job (see <see cref="IJobManagerGrain.CancelAsync"/>).</summary>
    Task<JobCommandResult> CancelAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Requeues a dead-lettered or cancelled job with a fresh attempt budget.</summary>
    Task<JobCommandResult> RetryAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Deletes a finished job.</summary>
    Task<JobCommandResult> DeleteAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Waits until the job is finished or <paramref name="timeout"/> (≤ 60 s) elapses; returns the job as it is then.</summary>
    Task<JobView?> WaitAsync(string id, TimeSpan timeout, CancellationToken cancellationToken = default);
}

/// <summary>A submission was refused; <see cref="Errors"/> says what was wrong with which request.</summary>
public sealed class JobValidationException : Exception
{
    public JobValidationException()
        : this([])
    {
    }

    public JobValidationException(string message)
        : base(message)
    {
        Errors = [];
    }

    public JobValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    public JobValidationException(IReadOnlyList<JobValidationError> errors)
        : base(errors.Count == 0 ? "The submission is invalid." : string.Join(" ", errors.Select(e => $"[{e.Index}] {e.Field}: {e.Message}")))
    {
        Errors = errors;
    }

    /// <summary>Every problem found, by request index and field.</summary>
    public IReadOnlyList<JobValidationError> Errors { get; }
}
