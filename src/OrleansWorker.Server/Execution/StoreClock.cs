namespace OrleansWorker.Execution;

/// <summary>
/// This silo's clock set to the job store's, the one clock every silo shares: what the engine reads the time from, so
/// that the timestamps silos write and compare with each other's (lease ends, due times of ticks, delays, retries and
/// timed pauses, rate windows) are on one time even when the machines' clocks differ. The offset is the last measured
/// gap (<see cref="JobEngine.MeasureClockSkewAsync"/>): zero until then, and while the gap is within a dead band.
/// Timers and timestamps (durations) are the silo's own: an offset never lengthens or shortens a wait.
/// </summary>
internal sealed class StoreClock(TimeProvider local) : TimeProvider
{
    private long _offsetTicks;

    /// <summary>The silo's own clock.</summary>
    public TimeProvider Local => local;

    /// <summary>How far the silo's clock is ahead of the store's (negative: behind), as this clock corrects it.</summary>
    public TimeSpan Offset
    {
        get => TimeSpan.FromTicks(Volatile.Read(ref _offsetTicks));
        set => Volatile.Write(ref _offsetTicks, value.Ticks);
    }

    public override DateTimeOffset GetUtcNow() => local.GetUtcNow() - Offset;

    public override long GetTimestamp() => local.GetTimestamp();

    public override long TimestampFrequency => local.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => local.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        local.CreateTimer(callback, state, dueTime, period);
}
