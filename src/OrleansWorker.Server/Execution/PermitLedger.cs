using System.Collections.Concurrent;
using OrleansWorker.Storage;

namespace OrleansWorker.Execution;

/// <summary>
/// This silo's side of the cluster-wide concurrency permits of limited queues. A claim takes permits before it claims,
/// holds them while the claim is in progress, and then either gives them back or hands them to the attempts it started
/// (which the <see cref="AttemptTracker"/> counts until each gives its permit back). The upkeep sets the store's count
/// for this silo to what it holds, correcting a release that was lost; it counts the claims in progress too, and it
/// runs under the same gate as taking permits, so it can never write a count that misses a grant (it may write one that
/// is too high for a moment, which only holds other silos back until the next upkeep; never one too low, which would
/// let the cluster run more than the limit).
/// </summary>
internal sealed class PermitLedger(JobStore store) : IDisposable
{
    private readonly ConcurrentDictionary<string, int> _inClaims = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Permits of <paramref name="queue"/> held by claims in progress.</summary>
    public int InClaims(string queue) => _inClaims.GetValueOrDefault(queue);

    /// <summary>Takes up to <paramref name="want"/> permits for a claim; returns how many it got.</summary>
    public async Task<int> AcquireAsync(string queue, string owner, int want, int limit)
    {
        await _gate.WaitAsync();
        try
        {
            var got = await store.AcquirePermitsAsync(queue, owner, want, limit);
            _inClaims.AddOrUpdate(queue, got, (_, held) => held + got);
            return got;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Ends a claim's grant: gives back the permits it did not use; the <paramref name="used"/> ones now belong to the
    /// attempts it started (already in the tracker).
    /// </summary>
    public async Task EndClaimAsync(string queue, string owner, int granted, int used)
    {
        try
        {
            await store.ReleasePermitsAsync(queue, owner, granted - used);
        }
        finally
        {
            _inClaims.AddOrUpdate(queue, 0, (_, held) => held - granted);
        }
    }

    /// <summary>Sets the store's count of <paramref name="owner"/> to its attempts of the queue (<paramref name="attempts"/>, read under the gate) plus its claims in progress.</summary>
    public async Task SetOwnAsync(string queue, string owner, Func<int> attempts)
    {
        await _gate.WaitAsync();
        try
        {
            await store.SetPermitsAsync(queue, owner, attempts() + InClaims(queue));
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose() => _gate.Dispose();
}
