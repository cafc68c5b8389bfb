namespace OrleansWorker.Execution;

/// <summary>
/// The job store's clock as this silo keeps it: what the engine reads the time from, so that the timestamps silos write
/// and compare with each other's (lease ends, due times of ticks, delays, retries and timed pauses, rate windows) are
/// on the one clock they share, even when the machines' clocks differ. Once a reading found a gap
/// (<see cref="JobEngine.MeasureClockSkewAsync"/>), it runs on from the store's time at that reading by this silo's
/// monotonic clock, so a step of this silo's wall clock (NTP, a resumed VM) does not move it; while the clocks agree
/// it is the silo's own. Timers and timestamps are the silo's own: waits are never lengthened or shortened.
/// </summary>
internal sealed class StoreClock(TimeProvider local) : TimeProvider
{
    private Anchor? _anchor;
    private long _uncertaintyTicks = -1; // -1: never decided

    /// <summary>The silo's own clock.</summary>
    public TimeProvider Local => local;

    /// <summary>Whether it runs on from a reading of the store's clock (false: it is the silo's own clock).</summary>
    public bool FollowsStore => Volatile.Read(ref _anchor) is not null;

    /// <summary>How far the silo's wall clock is ahead of this clock (negative: behind).</summary>
    public TimeSpan Offset => local.GetUtcNow() - GetUtcNow();

    /// <summary>How far from the store's time this clock may be, by the reading that decided it; null before one did.</summary>
    public TimeSpan? Uncertainty => Volatile.Read(ref _uncertaintyTicks) is >= 0 and var ticks ? TimeSpan.FromTicks(ticks) : null;

    /// <summary>Runs on from <paramref name="storeTime"/>, the store's time at the silo's <paramref name="timestamp"/>, known within <paramref name="uncertainty"/>.</summary>
    public void Follow(DateTimeOffset storeTime, long timestamp, TimeSpan uncertainty)
    {
        Volatile.Write(ref _anchor, new Anchor(storeTime, timestamp));
        Volatile.Write(ref _uncertaintyTicks, uncertainty.Ticks);
    }

    /// <summary>Goes by the silo's own clock, which agrees with the store's within <paramref name="uncertainty"/>.</summary>
    public void FollowLocal(TimeSpan uncertainty)
    {
        Volatile.Write(ref _anchor, null);
        Volatile.Write(ref _uncertaintyTicks, uncertainty.Ticks);
    }

    public override DateTimeOffset GetUtcNow() =>
        Volatile.Read(ref _anchor) is { } anchor ? anchor.StoreTime + local.GetElapsedTime(anchor.Timestamp) : local.GetUtcNow();

    public override long GetTimestamp() => local.GetTimestamp();

    public override long TimestampFrequency => local.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => local.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        local.CreateTimer(callback, state, dueTime, period);

    private sealed record Anchor(DateTimeOffset StoreTime, long Timestamp);
}
