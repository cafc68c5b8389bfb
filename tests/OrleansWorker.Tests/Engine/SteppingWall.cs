namespace OrleansWorker.Tests.Engine;

/// <summary>
/// A machine's two clocks: timestamps and timers from <paramref name="monotonic"/>, the wall clock that plus a
/// <see cref="Step"/> (an NTP correction, a resumed VM) that moves only the wall clock.
/// </summary>
internal sealed class SteppingWall(TimeProvider monotonic) : TimeProvider
{
    public TimeSpan Step { get; set; }

    public override DateTimeOffset GetUtcNow() => monotonic.GetUtcNow() + Step;

    public override long GetTimestamp() => monotonic.GetTimestamp();

    public override long TimestampFrequency => monotonic.TimestampFrequency;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        monotonic.CreateTimer(callback, state, dueTime, period);
}
