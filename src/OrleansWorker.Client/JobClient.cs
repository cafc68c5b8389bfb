using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace OrleansWorker.Client;

/// <summary><see cref="IJobClient"/> over the Orleans client: every call goes to a stateless worker grain on some silo.</summary>
internal sealed class JobClient(IGrainFactory grains, IOptions<JobClientOptions> options) : IJobClient
{
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(60);

    private IJobManagerGrain Manager => grains.GetGrain<IJobManagerGrain>(0);

    public async Task<EnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default) =>
        (await EnqueueManyAsync([request], cancellationToken))[0];

    public async Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IReadOnlyList<JobRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var traceParent = Activity.Current?.Id;
        if (traceParent is not null)
        {
            requests = requests.Select(r => r is { TraceParent: null } ? r with { TraceParent = traceParent } : r).ToList();
        }

        var response = await CallAsync(m => m.EnqueueAsync(requests), options.Value.CallTimeout, cancellationToken);
        return response.Accepted ? response.Results : throw new JobValidationException(response.Errors);
    }

    public Task<JobView?> GetAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.GetAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobPage> ListAsync(JobListQuery query, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.ListAsync(query), options.Value.CallTimeout, cancellationToken);

    public Task<JobCommandResult> CancelAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.CancelAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobCommandResult> RetryAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.RetryAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobCommandResult> DeleteAsync(string id, CancellationToken cancellationToken = default) =>
        CallAsync(m => m.DeleteAsync(id), options.Value.CallTimeout, cancellationToken);

    public Task<JobView?> WaitAsync(string id, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        timeout = timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout > MaxWait ? MaxWait : timeout;
        return CallAsync(m => m.WaitAsync(id, timeout), timeout + options.Value.CallTimeout, cancellationToken);
    }

    private async Task<T> CallAsync<T>(Func<IJobManagerGrain, Task<T>> call, TimeSpan deadline, CancellationToken cancellationToken)
    {
        try
        {
            return await call(Manager).WaitAsync(deadline, cancellationToken);
        }
        catch (TimeoutException ex)
        {
            throw new JobServiceUnavailableException($"The job service did not answer within {deadline.TotalSeconds:0.#} s.", ex);
        }
        catch (Exception ex) when (IsUnavailable(ex))
        {
            throw new JobServiceUnavailableException($"The job service cannot be reached: {ex.Message}", ex);
        }
    }

    /// <summary>Orleans' own failures to reach a silo (no gateway, silo gone, message rejected).</summary>
    private static bool IsUnavailable(Exception ex) =>
        ex is SiloUnavailableException or Orleans.Runtime.Messaging.ConnectionFailedException or OrleansMessageRejectionException or ClientNotAvailableException
        || (ex is OrleansException && ex is not JobServiceUnavailableException);
}
