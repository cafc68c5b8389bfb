using System.Collections.Concurrent;

namespace OrleansWorker.Execution;

/// <summary>
/// The attempts this silo holds: capacity accounting for the dispatcher, the handles to cancel or abandon, and the
/// finished ids to drop from this silo's run sets (lazily, with the next claim or lease renewal of their shard).
/// </summary>
internal sealed class AttemptTracker : IDisposable
{
    private readonly ConcurrentDictionary<string, RunningAttempt> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ClaimedAttempt> _pending = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, ConcurrentQueue<string>> _finished = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private int _storing;
    private long _started;
    private int _closed;

    public void Dispose() => _changed.Dispose();

    /// <summary>Attempts running here.</summary>
    public int InFlight => _running.Count;

    /// <summary>Attempts running here (handler or outcome write) plus claims being handed to their grains: what this silo holds.</summary>
    public int Busy => _running.Count + _pending.Count;

    /// <summary>Attempts whose handler has not returned yet, plus claims being handed to their grains: what uses a job slot.</summary>
    public int Executing => Math.Max(0, Busy - Volatile.Read(ref _storing));

    /// <summary>Attempts whose handler returned and whose outcome is being stored.</summary>
    public int Storing => Volatile.Read(ref _storing);

    /// <summary>Claims about to be handed to their grains.</summary>
    public void AddPending(IEnumerable<ClaimedAttempt> claims)
    {
        foreach (var claim in claims)
        {
            _pending.TryAdd(claim.GrainKey, claim);
        }
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

    /// <summary>
    /// Registers an attempt about to start. It must not run when the same claim is already running here, or when the silo
    /// has stopped taking attempts (<see cref="Close"/>: then its job is to be handed back).
    /// </summary>
    public Admission Admit(RunningAttempt attempt)
    {
        if (!_running.TryAdd(attempt.Claim.GrainKey, attempt))
        {
            return Admission.AlreadyRunning;
        }

        // A full fence between the add and the read of _closed (Close: the write, then the snapshot): either Close's
        // snapshot holds this attempt, or this attempt sees the silo closed.
        Interlocked.Increment(ref _started);
        if (Volatile.Read(ref _closed) == 1)
        {
            Unstart(attempt);
            return Admission.Refused;
        }

        return Admission.Started;
    }

    /// <summary>Takes back an attempt registered by <see cref="Admit"/> that is not going to run after all.</summary>
    public void Unstart(RunningAttempt attempt)
    {
        _running.TryRemove(new KeyValuePair<string, RunningAttempt>(attempt.Claim.GrainKey, attempt));
        Interlocked.Decrement(ref _started);
        Signal();
    }

    /// <summary>
    /// Stops taking attempts (the silo is stopping): from now on <see cref="Admit"/> refuses every one, so a claim
    /// answered or handed off after this never runs here; its job is handed back with the rest. Returns the attempts
    /// running now.
    /// </summary>
    public IReadOnlyList<RunningAttempt> Close()
    {
        Interlocked.Exchange(ref _closed, 1);
        return Snapshot();
    }

    /// <summary>The attempt's handler returned: its slot is free for another job while its outcome is stored.</summary>
    public void HandlerEnded(RunningAttempt attempt)
    {
        if (attempt.MarkStoring())
        {
            Interlocked.Increment(ref _storing);
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

/// <summary>What <see cref="AttemptTracker.Admit"/> decided.</summary>
internal enum Admission
{
    /// <summary>Registered: it runs.</summary>
    Started,

    /// <summary>The same claim runs here already (a duplicate delivery).</summary>
    AlreadyRunning,

    /// <summary>It must not run here: its job is handed back.</summary>
    Refused,
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
