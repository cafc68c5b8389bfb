namespace OrleansWorker.Handlers;

/// <summary>Runs jobs of one type. Resolved from DI once per attempt, in a scope of its own.</summary>
public interface IJobHandler
{
    /// <summary>The job type this handler runs (the <c>type</c> of a request).</summary>
    string Name { get; }

    /// <summary>Runs one attempt. Return the result as JSON text (or null); throw to fail the attempt.</summary>
    /// <param name="context">The job and helpers for progress and logging.</param>
    /// <param name="cancellationToken">Fires when the job is cancelled, times out, or its silo stops.</param>
    Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken);
}
