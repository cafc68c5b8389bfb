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

    /// <summary>The silo's own clock.</summary>
    public TimeProvider Local => local;

    /// <summary>Whether it runs on from a reading of the store's clock (false: it is the silo's own clock).</summary>
    public bool FollowsStore => Volatile.Read(ref _anchor) is not null;

    /// <summary>How far the silo's wall clock is ahead of this clock (negative: behind).</summary>
    public TimeSpan Offset => local.GetUtcNow() - GetUtcNow();

    /// <summary>Runs on from <paramref name="storeTime"/>, the store's time at the silo's <paramref name="timestamp"/>.</summary>
    public void Follow(DateTimeOffset storeTime, long timestamp) => Volatile.Write(ref _anchor, new Anchor(storeTime, timestamp));

    /// <summary>Goes by the silo's own clock (the clocks agree).</summary>
    public void FollowLocal() => Volatile.Write(ref _anchor, null);

    public override DateTimeOffset GetUtcNow() =>
        Volatile.Read(ref _anchor) is { } anchor ? anchor.StoreTime + local.GetElapsedTime(anchor.Timestamp) : local.GetUtcNow();

    public override long GetTimestamp() => local.GetTimestamp();

    public override long TimestampFrequency => local.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => local.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        local.CreateTimer(callback, state, dueTime, period);

    private sealed record Anchor(DateTimeOffset StoreTime, long Timestamp);
}
