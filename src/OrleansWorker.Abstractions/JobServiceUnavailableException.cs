namespace OrleansWorker;

/// <summary>The job service (the cluster, or the store behind it) could not answer in time.</summary>
[GenerateSerializer, Alias("OrleansWorker.JobServiceUnavailableException")]
public sealed class JobServiceUnavailableException : Exception
{
    public JobServiceUnavailableException()
    {
    }

    public JobServiceUnavailableException(string message)
        : base(message)
    {
    }

    public JobServiceUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
