namespace OrleansWorker.Client;

/// <summary>Options of <see cref="IJobClient"/>, bound from the <c>Worker:Client</c> section.</summary>
public sealed class JobClientOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Worker:Client";

    /// <summary>
    /// How long a call may take before it fails with <see cref="JobServiceUnavailableException"/>, so a dead silo
    /// never holds a caller for the 30 s Orleans response timeout. Default: 10 seconds.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
