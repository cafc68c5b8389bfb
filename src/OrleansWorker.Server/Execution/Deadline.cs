namespace OrleansWorker.Execution;

/// <summary>
/// A moment <see cref="Span"/> after <see cref="Start"/> on the silo's monotonic clock (<see cref="TimeProvider.GetTimestamp"/>):
/// how the engine measures how long its own waits, periods and deadlines last. Its wall time
/// (<see cref="JobEngine.Time"/>, a <see cref="StoreClock"/>) can step, by an NTP correction of the silo's clock or when
/// a reading of the store's clock moves it; a duration measured on it steps with it (an hour back stalls a step that is
/// due every 5 s for an hour, forward ends a wait at once). Wall time stays what the engine writes and compares with
/// other silos' timestamps.
/// </summary>
internal readonly record struct Deadline(TimeProvider Time, long Start, TimeSpan Span)
{
    /// <summary><paramref name="span"/> from now.</summary>
    public static Deadline In(TimeProvider time, TimeSpan span) => new(time, time.GetTimestamp(), span);

    /// <summary>How long until it passes (zero or negative once it has).</summary>
    public TimeSpan Left => Span - Time.GetElapsedTime(Start);

    public bool Passed => Left <= TimeSpan.Zero;
}

/// <summary>A step due every <paramref name="period"/>, the first time after <paramref name="first"/>, on the silo's monotonic clock (see <see cref="Deadline"/>).</summary>
internal sealed class Period(TimeProvider time, TimeSpan period, TimeSpan first)
{
    private Deadline _next = Deadline.In(time, first);

    /// <summary>True when the step is due; it is then due again a period from now.</summary>
    public bool Due()
    {
        if (!_next.Passed)
        {
            return false;
        }

        _next = Deadline.In(time, period);
        return true;
    }
}
