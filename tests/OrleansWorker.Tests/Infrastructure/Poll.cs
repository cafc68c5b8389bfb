using System.Diagnostics;

namespace OrleansWorker.Tests.Infrastructure;

/// <summary>Waits for a condition by polling it, with a deadline and a message that says what was awaited.</summary>
public static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan timeout, string awaited)
    {
        var clock = Stopwatch.StartNew();
        T last = default!;
        Exception? lastError = null;
        var interval = TimeSpan.FromMilliseconds(10);
        while (clock.Elapsed < timeout)
        {
            try
            {
                last = await probe();
                lastError = null;
                if (done(last))
                {
                    return last;
                }
            }
            catch (Exception ex)
            {
                lastError = ex;
            }

            await Task.Delay(interval);
            interval = TimeSpan.FromMilliseconds(Math.Min(interval.TotalMilliseconds * 2, 200));
        }

        throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for {awaited}. Last value: {Describe(last)}{(lastError is null ? "" : $"; last error: {lastError.Message}")}");
    }

    public static Task UntilAsync(Func<Task<bool>> probe, TimeSpan timeout, string awaited) =>
        UntilAsync(probe, ok => ok, timeout, awaited);

    public static Task UntilAsync(Func<bool> probe, TimeSpan timeout, string awaited) =>
        UntilAsync(() => Task.FromResult(probe()), ok => ok, timeout, awaited);

    private static string Describe(object? value) => value switch
    {
        null => "null",
        JobView v => $"job {v.Id} {v.State} attempt {v.Attempt}",
        _ => value.ToString() ?? "?",
    };
}
