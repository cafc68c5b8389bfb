namespace OrleansWorker;

/// <summary>
/// Runs jobs whose payload is <typeparamref name="TPayload"/> and that produce no result. Resolved from the service
/// provider once per attempt, in a scope of its own.
/// </summary>
/// <remarks>
/// The job type this handler runs is the name it is registered under (<c>AddJob&lt;THandler&gt;("email.send")</c>),
/// else <see cref="JobNameAttribute"/> on the handler or on <typeparamref name="TPayload"/>, else the payload type's
/// name (see <see cref="JobNames"/>). Throw to fail the attempt (it is retried with backoff until its attempts are
/// used up); throw <see cref="UnrecoverableJobException"/> to dead-letter the job at once; throw
/// <see cref="JobRateLimitedException"/> when a remote side rate-limited you.
/// </remarks>
/// <typeparam name="TPayload">The payload, deserialised from the job's JSON (camelCase, System.Text.Json web defaults).</typeparam>
public interface IJobHandler<in TPayload>
{
    /// <summary>Runs one attempt.</summary>
    /// <param name="payload">The job's payload.</param>
    /// <param name="context">The job, and helpers for progress and logging.</param>
    /// <param name="cancellationToken">Fires when the job is cancelled, times out, or its silo stops or loses the job.</param>
    Task ExecuteAsync(TPayload payload, JobContext context, CancellationToken cancellationToken);
}

/// <summary>Runs jobs whose payload is <typeparamref name="TPayload"/> and returns a <typeparamref name="TResult"/>, stored as the job's JSON result.</summary>
/// <typeparam name="TPayload">The payload type.</typeparam>
/// <typeparam name="TResult">The result type (serialised as camelCase JSON; at most <c>Worker:MaxResultBytes</c>).</typeparam>
/// <remarks>See <see cref="IJobHandler{TPayload}"/> for names, failures and retries.</remarks>
public interface IJobHandler<in TPayload, TResult>
{
    /// <summary>Runs one attempt and returns its result.</summary>
    Task<TResult> ExecuteAsync(TPayload payload, JobContext context, CancellationToken cancellationToken);
}

/// <summary>
/// Runs jobs on their raw JSON: the payload is <see cref="JobContext.Payload"/> and the result is JSON text (or null).
/// For handlers that route or forward payloads without a type of their own.
/// </summary>
public interface IJobHandler
{
    /// <summary>
    /// Runs one attempt; returns the result as JSON text (see <see cref="JsonText.IsValid"/>), or null. Text that is not
    /// JSON fails the attempt for good (<c>ResultNotJson</c>).
    /// </summary>
    Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken);
}
