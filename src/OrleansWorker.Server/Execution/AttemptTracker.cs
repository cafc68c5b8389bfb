using System.Collections.Concurrent;

namespace OrleansWorker.Execution;

/// <summary>
/// The attempts this silo holds: capacity accounting for the dispatcher, the handles to cancel or abandon, and the
/// finished ids to drop from this silo's run sets (lazily, with the next claim or lease renewal of their shard).
/// </summary>
/// <remarks>
/// A claimed attempt is first <em>waiting</em> (claimed ahead of a free slot, see <see cref="AddWaiting"/>), then
/// <em>pending</em> (being handed to its grain: it takes a slot), then <em>running</em> (its handler takes the slot), then
/// <em>storing</em> (its handler returned: the slot is free while its outcome is written).
/// </remarks>
internal sealed class AttemptTracker : IDisposable
{
    private readonly ConcurrentDictionary<string, RunningAttempt> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClaimedAttempt> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, ConcurrentQueue<string>> _finished = new();
    private readonly ConcurrentQueue<ClaimedAttempt> _waiting = new();
    private readonly Lock _slotLock = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private int _storing;
    private int _waitingCount;
    private long _started;
    private long _ended;

    public void Dispose() => _changed.Dispose();

    /// <summary>Attempts running here.</summary>
    public int InFlight => _running.Count;

    /// <summary>Attempts running here (handler or outcome write) plus claims waiting for a slot or being handed to their grains: what this silo holds.</summary>
    public int Busy => _running.Count + _pending.Count;

    /// <summary>Attempts whose handler has not returned yet, plus claims being handed to their grains: what uses a job slot.</summary>
    public int Executing => Math.Max(0, Busy - Volatile.Read(ref _storing) - Volatile.Read(ref _waitingCount));

    /// <summary>Attempts whose handler returned and whose outcome is being stored.</summary>
    public int Storing => Volatile.Read(ref _storing);

    /// <summary>Claims waiting for a slot (<see cref="AddWaiting"/>).</summary>
    public int Waiting => Volatile.Read(ref _waitingCount);

    /// <summary>Handlers that returned on this silo since it started (the dispatcher's measure of how fast slots free).</summary>
    public long Ended => Interlocked.Read(ref _ended);

    /// <summary>
    /// Called (on the thread that freed it) when a slot may have freed while claims wait for one; it must not start
    /// attempts on that thread (it may be a grain's), only schedule <see cref="TakeForSlots"/>.
    /// </summary>
    public Action? SlotFreed { get; set; }

    /// <summary>
    /// Claims that wait for a slot, in claim order: a claim may take more jobs than slots are free when it is sent, for
    /// the slots expected to free before it is answered. Until <see cref="TakeForSlots"/> gives them a slot they use none,
    /// but the silo holds them (<see cref="Busy"/>, <see cref="Holds"/>).
    /// </summary>
    public void AddWaiting(IReadOnlyList<ClaimedAttempt> claims)
    {
        foreach (var claim in claims)
        {
            if (_pending.TryAdd(claim.GrainKey, claim))
            {
                _waiting.Enqueue(claim);
                Interlocked.Increment(ref _waitingCount);
            }
        }
    }

    /// <summary>
    /// Takes waiting claims, oldest first, while fewer than <paramref name="slots"/> are <see cref="Executing"/>: each one
    /// taken uses a slot from now on (it is pending), so the caller must hand it to its grain or <see cref="RemovePending"/> it.
    /// </summary>
    public List<ClaimedAttempt> TakeForSlots(int slots)
    {
        var taken = new List<ClaimedAttempt>();
        if (Waiting == 0)
        {
            return taken;
        }

        // One taker at a time: only a taker raises Executing, so no two can both see the last free slot.
        lock (_slotLock)
        {
            while (Executing < slots && _waiting.TryDequeue(out var claim))
            {
                Interlocked.Decrement(ref _waitingCount);
                taken.Add(claim);
            }
        }

        return taken;
    }

    /// <summary>
    /// Drops the waiting claims that <paramref name="drop"/> selects (the silo stops, or left the owner name they were
    /// claimed under): they are no longer held, and never start. The others keep their place in line.
    /// </summary>
    public List<ClaimedAttempt> DropWaiting(Func<ClaimedAttempt, bool> drop)
    {
        var dropped = new List<ClaimedAttempt>();
        lock (_slotLock)
        {
            for (var n = Waiting; n > 0 && _waiting.TryDequeue(out var claim); n--)
            {
                if (drop(claim))
                {
                    Interlocked.Decrement(ref _waitingCount);
                    _pending.TryRemove(claim.GrainKey, out _);
                    dropped.Add(claim);
                }
                else
                {
                    _waiting.Enqueue(claim);
                }
            }
        }

        if (dropped.Count > 0)
        {
            Signal();
        }

        return dropped;
    }

    public void RemovePending(ClaimedAttempt claim)
    {
        _pending.TryRemove(claim.GrainKey, out _);
        Signal();
    }

    /// <summary>Claims of <paramref name="queue"/> this silo holds (handing off or running).</summary>
    public int CountOfQueue(string queue) => _running.Values.Count(a => a.Claim.Queue == queue) + _pending.Values.Count(c => c.Queue == queue);

    /// <summary>Whether this silo holds the claim (handing it off, or running it).</summary>
    public bool Holds(string grainKey) => _running.ContainsKey(grainKey) || _pending.ContainsKey(grainKey);

    /// <summary>Attempts started on this silo since it started.</summary>
    public long Started => Interlocked.Read(ref _started);

    public bool TryAdd(RunningAttempt attempt)
    {
        if (!_running.TryAdd(attempt.Claim.GrainKey, attempt))
        {
            return false;
        }

        Interlocked.Increment(ref _started);
        return true;
    }

    /// <summary>The attempt's handler returned: its slot is free for another job while its outcome is stored.</summary>
    public void HandlerEnded(RunningAttempt attempt)
    {
        if (attempt.MarkStoring())
        {
            Interlocked.Increment(ref _storing);
            Interlocked.Increment(ref _ended);
            Signal();
        }
    }

    public void Remove(RunningAttempt attempt)
    {
        if (_running.TryRemove(new KeyValuePair<string, RunningAttempt>(attempt.Claim.GrainKey, attempt)) && attempt.IsStoring)
        {
            Interlocked.Decrement(ref _storing);
        }

        Signal();
    }

    /// <summary>The running attempt with this grain key (<see cref="ClaimedAttempt.GrainKey"/>), if this silo runs it.</summary>
    public RunningAttempt? Running(string attemptKey) => _running.GetValueOrDefault(attemptKey);

    public IReadOnlyList<RunningAttempt> Snapshot() => _running.Values.ToList();

    /// <summary>Records that a claimed job's outcome is stored (or was refused as stale): its run-set entry can go.</summary>
    public void Finished(int shard, string jobId) => _finished.GetOrAdd(shard, _ => new ConcurrentQueue<string>()).Enqueue(jobId);

    /// <summary>Takes the finished ids of a shard (at most <paramref name="max"/>).</summary>
    public List<string> TakeFinished(int shard, int max = 4096)
    {
        var ids = new List<string>();
        if (_finished.TryGetValue(shard, out var queue))
        {
            while (ids.Count < max && queue.TryDequeue(out var id))
            {
                ids.Add(id);
            }
        }

        return ids;
    }

    /// <summary>Completes when an attempt ends or a hand-off finishes (or after <paramref name="timeout"/>).</summary>
    public Task WaitForChangeAsync(TimeSpan timeout, CancellationToken cancellationToken) => _changed.WaitAsync(timeout, cancellationToken);

    private void Signal()
    {
        if (Volatile.Read(ref _waitingCount) > 0)
        {
            SlotFreed?.Invoke();
        }

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

/// <summary>Why an attempt was cut short by its own silo.</summary>
internal enum AbandonReason
{
    None = 0,

    /// <summary>The silo is stopping: hand the job back.</summary>
    Shutdown = 1,

    /// <summary>The silo lost its lease (cut off from the store too long, or revoked): another silo runs the job.</summary>
    LeaseLost = 2,
}

/// <summary>One attempt running on this silo.</summary>
internal sealed class RunningAttempt(ClaimedAttempt claim) : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private volatile int _abandon;
    private int _storing;

    public ClaimedAttempt Claim { get; } = claim;

    /// <summary>Fires on cancel, timeout, shutdown or lease loss.</summary>
    public CancellationToken Token => _cts.Token;

    public bool CancelRequested { get; private set; }

    /// <summary>The attempt ran past the job's timeout.</summary>
    public bool TimedOut { get; private set; }

    public AbandonReason Abandoned => (AbandonReason)_abandon;

    /// <summary>The handler returned; the outcome is being stored.</summary>
    public bool IsStoring => Volatile.Read(ref _storing) == 1;

    public TaskCompletionSource Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Cancel()
    {
        CancelRequested = true;
        TryCancel();
    }

    public void TimeOut()
    {
        TimedOut = true;
        TryCancel();
    }

    public void Abandon(AbandonReason reason)
    {
        Interlocked.CompareExchange(ref _abandon, (int)reason, 0);
        TryCancel();
    }

    public void Dispose() => _cts.Dispose();

    /// <summary>Marks the handler as returned; true the first time.</summary>
    internal bool MarkStoring() => Interlocked.Exchange(ref _storing, 1) == 0;

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
