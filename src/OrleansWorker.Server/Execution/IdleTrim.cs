namespace OrleansWorker.Execution;

/// <summary>
/// Decides when an idle silo gives its memory back: once no attempt has run or started for <c>Worker:IdleTrimDelay</c>
/// after a stretch of work. A burst of jobs grows the managed heap (Workstation GC keeps the high-water mark for as
/// long as nothing allocates enough to collect again); one compacting, decommitting full collection when the work has
/// stopped returns it — so a worker that ran a million jobs sits at about the memory it started with, not its peak.
/// </summary>
internal sealed class IdleTrim(TimeSpan delay, TimeProvider time)
{
    private long _seenStarted = -1;
    private long _trimmedAt;
    private long _quietSince; // the silo's timestamp: a step of its wall clock neither hurries nor holds off a trim

    /// <summary>
    /// Called every maintenance tick with the attempts started so far and those held now; true when the silo should trim
    /// now (it then counts as trimmed for this stretch of work), with the attempts started in that stretch.
    /// </summary>
    public bool Due(long started, int busy, out long attempts)
    {
        var now = time.GetTimestamp();
        attempts = 0;
        if (delay <= TimeSpan.Zero)
        {
            return false;
        }

        if (_seenStarted < 0)
        {
            // The first look: what ran before it (start-up) is not a stretch of work.
            (_seenStarted, _trimmedAt, _quietSince) = (started, started, now);
            return false;
        }

        if (started != _seenStarted || busy > 0)
        {
            (_seenStarted, _quietSince) = (started, now);
            return false;
        }

        if (started == _trimmedAt || time.GetElapsedTime(_quietSince, now) < delay)
        {
            return false;
        }

        attempts = started - _trimmedAt;
        _trimmedAt = started;
        return true;
    }

    /// <summary>One blocking, compacting full collection that decommits the freed memory; returns the heap sizes around it.</summary>
    public static (long HeapBefore, long HeapAfter) Collect()
    {
        var before = GC.GetTotalMemory(forceFullCollection: false);
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        return (before, GC.GetTotalMemory(forceFullCollection: false));
    }
}
