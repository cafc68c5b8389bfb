using System.Collections.Concurrent;
using Orleans.GrainDirectory;

namespace OrleansWorker.Execution;

/// <summary>
/// The grain directory of attempt grains: this silo's memory. An attempt grain's key holds its claim token and only
/// the claiming silo ever addresses it, so no other silo needs to find it. Without this, Orleans looks every new
/// attempt up in the cluster's distributed directory before placing it — a remote call for most attempts, and one
/// that waits on a directory partition held by a silo that died or is cut off.
/// </summary>
internal sealed class LocalAttemptDirectory : IGrainDirectory
{
    /// <summary>The name the attempt grain is bound to (<c>[GrainDirectory]</c>).</summary>
    public const string Name = "orleansworker-attempts";

    private readonly ConcurrentDictionary<GrainId, GrainAddress> _entries = new();

    public Task<GrainAddress?> Register(GrainAddress address) => Task.FromResult<GrainAddress?>(_entries.GetOrAdd(address.GrainId, address));

    public Task Unregister(GrainAddress address)
    {
        _entries.TryRemove(new KeyValuePair<GrainId, GrainAddress>(address.GrainId, address));
        return Task.CompletedTask;
    }

    public Task<GrainAddress?> Lookup(GrainId grainId) => Task.FromResult(_entries.TryGetValue(grainId, out var address) ? address : null);

    public Task UnregisterSilos(List<SiloAddress> siloAddresses)
    {
        foreach (var (id, address) in _entries)
        {
            if (address.SiloAddress is { } silo && siloAddresses.Contains(silo))
            {
                _entries.TryRemove(new KeyValuePair<GrainId, GrainAddress>(id, address));
            }
        }

        return Task.CompletedTask;
    }
}
