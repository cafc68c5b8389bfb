namespace OrleansWorker.Execution;

/// <summary>Exponential backoff with jitter between attempts.</summary>
internal static class RetryPolicy
{
    /// <summary>
    /// The delay before attempt <paramref name="failedAttempt"/> + 1: <c>base × 2^(n−1)</c> capped at <paramref name="max"/>,
    /// of which the upper half is random ("equal jitter"), so retries of many jobs spread out but never come sooner than half the step.
    /// </summary>
    /// <param name="failedAttempt">The attempt that failed, from 1.</param>
    /// <param name="baseDelay">The first step.</param>
    /// <param name="max">The cap.</param>
    /// <param name="random01">A number in [0, 1).</param>
    public static TimeSpan ComputeDelay(int failedAttempt, TimeSpan baseDelay, TimeSpan max, double random01)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failedAttempt, 1);
        var exponent = Math.Min(failedAttempt - 1, 40);
        var stepTicks = Math.Min(baseDelay.Ticks * Math.Pow(2, exponent), max.Ticks);
        var half = stepTicks / 2;
        return TimeSpan.FromTicks((long)(half + (half * Math.Clamp(random01, 0, 1))));
    }
}
