namespace OrleansWorker;

/// <summary>
/// Thrown by a handler when retrying cannot help (the input is wrong, the thing to act on is gone): the attempt
/// fails and the job is dead-lettered at once, with this exception's message as its last error.
/// </summary>
public class UnrecoverableJobException : Exception
{
    public UnrecoverableJobException()
        : this("The job cannot succeed; it will not be retried.")
    {
    }

    public UnrecoverableJobException(string message)
        : base(message)
    {
    }

    public UnrecoverableJobException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Thrown by a handler when a remote side rate-limited it (an HTTP 429, a quota): the job runs again after
/// <see cref="RetryAfter"/> without using up an attempt, and, with <see cref="PauseQueue"/>, nothing else of its
/// queue starts meanwhile.
/// </summary>
public class JobRateLimitedException : Exception
{
    public JobRateLimitedException()
        : this(TimeSpan.FromSeconds(1))
    {
    }

    public JobRateLimitedException(string message)
        : this(TimeSpan.FromSeconds(1), message)
    {
    }

    public JobRateLimitedException(string message, Exception? innerException)
        : base(message, innerException)
    {
        RetryAfter = TimeSpan.FromSeconds(1);
    }

    /// <param name="retryAfter">When to try again (what the remote side said, e.g. its <c>Retry-After</c>).</param>
    /// <param name="message">What happened.</param>
    /// <param name="pauseQueue">Also pause the job's queue for <paramref name="retryAfter"/>.</param>
    public JobRateLimitedException(TimeSpan retryAfter, string? message = null, bool pauseQueue = false)
        : base(message ?? $"Rate limited; retry after {retryAfter}.")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retryAfter, TimeSpan.Zero);
        RetryAfter = retryAfter;
        PauseQueue = pauseQueue;
    }

    /// <summary>When to try again.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Whether the whole queue waits too.</summary>
    public bool PauseQueue { get; }
}
