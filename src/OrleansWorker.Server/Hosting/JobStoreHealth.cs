using OrleansWorker.Execution;
using OrleansWorker.Storage;

namespace OrleansWorker.Hosting;

/// <summary>
/// The health of this silo's job store as the engine sees it: the store answers, and the silo holds its lease (it is
/// not cut off from the store). Hosts map it onto their health endpoint.
/// </summary>
public sealed class JobStoreHealth
{
    private readonly JobStore _store;
    private readonly JobDispatcher _dispatcher;

    internal JobStoreHealth(JobStore store, JobDispatcher dispatcher)
    {
        _store = store;
        _dispatcher = dispatcher;
    }

    /// <summary>"redis" or "embedded".</summary>
    public string Engine => _store.Description.Engine;

    /// <summary>Where the jobs live: Redis endpoints or the embedded database file.</summary>
    public string Location => _store.Description.Location;

    /// <summary>What an acknowledged job survives, in words.</summary>
    public string Durability => _store.Description.Durability;

    /// <summary>Throws, saying why, when the store does not answer or this silo lost its lease.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        await _store.PingAsync(cancellationToken);
        if (!_dispatcher.HasLease)
        {
            throw new InvalidOperationException("This silo lost its lease on its jobs (it could not reach the store for a lease period); it claims nothing until it renews.");
        }
    }
}
