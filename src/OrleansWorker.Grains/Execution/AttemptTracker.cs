using System.Collections.Concurrent;

namespace OrleansWorker.Execution;

/// <summary>
/// The attempts running on this silo: capacity accounting for the dispatcher, the ids whose leases to renew,
/// and the handles to cancel at shutdown.
/// </summary>
internal sealed class AttemptTracker : IDisposable
{
    private readonly ConcurrentDictionary<string, RunningAttempt> _running = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _changed = new(0, 1);
    private int _pending;

    /// <summary>Attempts running here.</summary>
    public void Dispose() => _changed.Dispose();

    public int InFlight => _running.Count;

    /// <summary>Attempts running here plus claims being handed to their grains.</summary>
    public int Busy => _running.Count + Volatile.Read(ref _pending);

    public IReadOnlyCollection<string> RunningIds => (IReadOnlyCollection<string>)_running.Keys;

    public void AddPending(int count) => Interlocked.Add(ref _pending, count);

    public void RemovePending()
    {
        Interlocked.Decrement(ref _pending);
        Signal();
    }

    public bool TryAdd(RunningAttempt attempt) => _running.TryAdd(attempt.Claim.JobId, attempt);

    public void Remove(RunningAttempt attempt)
    {
        _running.TryRemove(new KeyValuePair<string, RunningAttempt>(attempt.Claim.JobId, attempt));
        Signal();
    }

    public bool TryGet(string jobId, out RunningAttempt? attempt) => _running.TryGetValue(jobId, out attempt);

    public IReadOnlyList<RunningAttempt> Snapshot() => _running.Values.ToList();

    /// <summary>Completes when an attempt ends or a hand-off finishes (or after <paramref name="timeout"/>).</summary>
    public Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken) => _changed.WaitAsync(timeout, cancellationToken);

    private void Signal()
    {
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another thread signalled first; one wake-up is enough.
            }
        }
    }
}

/// <summary>One attempt running on this silo.</summary>
internal sealed class RunningAttempt(ClaimedAttempt claim) : IDisposable
{
    private readonly CancellationTokenSource _cts = new();

    public ClaimedAttempt Claim { get; } = claim;

    /// <summary>Fires on cancel or shutdown.</summary>
    public CancellationToken Token => _cts.Token;

    public bool CancelRequested { get; private set; }

    public bool ShutdownRequested { get; private set; }

    public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Cancel()
    {
        CancelRequested = true;
        TryCancel();
    }

    public void Abandon()
    {
        ShutdownRequested = true;
        TryCancel();
    }

    public void Dispose() => _cts.Dispose();

    private void TryCancel()
    {
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The attempt already ended.
        }
    }
}
