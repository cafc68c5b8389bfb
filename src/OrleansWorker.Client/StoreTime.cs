namespace OrleansWorker.Client;

/// <summary>
/// The store's time as this client knows it, for the deadline (<c>notAfter</c>) of a submission, which the store judges
/// by its own clock. Read through a silo (<see cref="IJobManagerGrain.GetTimeAsync"/>: the earliest the store's clock
/// can read, by the silo's last reading of it) at most once a minute and run on by this process's monotonic clock, so
/// neither a gap between this machine's clock and the store's nor a step of this machine's clock moves it. Without a
/// reading (no silo answered within <paramref name="budget"/>, the silo has not read the store's clock yet, or a silo of
/// an older version) it is this process's own clock, as before, and read again after a few seconds.
/// </summary>
/// <remarks>
/// A reading is the earliest store time when the silo answered, taken as the time when the answer arrived: never later
/// than the true store time then. A deadline set on it is therefore never later, by the store's clock, than this client
/// takes it to be; once the client's estimate of the store's time has passed it, so has the store's.
/// </remarks>
internal sealed class StoreTime(Func<Task<DateTimeOffset?>> read, TimeProvider time, TimeSpan budget)
{
    private static readonly TimeSpan ReadingLifetime = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private Task<Reading>? _current; // the last read, or the one under way: submissions take the finished one without allocating

    /// <summary>A time and this process's timestamp then; <see cref="Now"/> runs on from it by the monotonic clock.</summary>
    public sealed record Reading(DateTimeOffset At, long Timestamp, TimeProvider Time, bool FromStore, TimeSpan Lifetime)
    {
        public DateTimeOffset Now => At + Time.GetElapsedTime(Timestamp);

        internal bool Fresh => Time.GetElapsedTime(Timestamp) < Lifetime;
    }

    /// <summary>The current reading, read again when it is a minute old (one read at a time, shared by all callers).</summary>
    public Task<Reading> GetAsync()
    {
        var current = Volatile.Read(ref _current);
        if (current is { IsCompletedSuccessfully: true } && current.Result.Fresh)
        {
            return current;
        }

        lock (_gate)
        {
            current = _current;
            if (current is null || (current.IsCompletedSuccessfully && !current.Result.Fresh))
            {
                current = _current = ReadAsync(current is { IsCompletedSuccessfully: true } ? current.Result : null);
            }

            return current;
        }
    }

    /// <summary>
    /// Drops a reading of the store's clock (a submission failed: maybe refused for a deadline the store took for past);
    /// the next call reads again. Going by this process's own clock after a failed read, it waits for its few seconds.
    /// </summary>
    public void Forget()
    {
        lock (_gate)
        {
            if (_current is { IsCompletedSuccessfully: true, Result.FromStore: true })
            {
                _current = null;
            }
        }
    }

    private async Task<Reading> ReadAsync(Reading? last)
    {
        try
        {
            if (await read().WaitAsync(budget, time) is { } store)
            {
                return new Reading(store, time.GetTimestamp(), time, FromStore: true, ReadingLifetime);
            }
        }
        catch (Exception)
        {
            // Best effort: a silo that does not answer fails the submission anyway, one of an older version has no clock
            // to read.
        }

        // Keep what was read before, run on; else this process's own clock.
        return last is { FromStore: true }
            ? last with { Lifetime = time.GetElapsedTime(last.Timestamp) + RetryAfter }
            : new Reading(time.GetUtcNow(), time.GetTimestamp(), time, FromStore: false, RetryAfter);
    }
}
