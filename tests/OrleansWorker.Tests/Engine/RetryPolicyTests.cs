using OrleansWorker.Execution;

namespace OrleansWorker.Tests.Engine;

public class RetryPolicyTests
{
    private static readonly TimeSpan Base = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Cap = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(1, 0.5, 1.0)]
    [InlineData(2, 1.0, 2.0)]
    [InlineData(3, 2.0, 4.0)]
    [InlineData(5, 8.0, 16.0)]
    public void ComputeDelay_DoublesEachAttempt_WithJitterInUpperHalf(int attempt, double minSeconds, double maxSeconds)
    {
        Assert.Equal(minSeconds, RetryPolicy.ComputeDelay(attempt, Base, Cap, 0).TotalSeconds, 6);
        Assert.Equal(maxSeconds, RetryPolicy.ComputeDelay(attempt, Base, Cap, 1).TotalSeconds, 6);
        var mid = RetryPolicy.ComputeDelay(attempt, Base, Cap, 0.5).TotalSeconds;
        Assert.InRange(mid, minSeconds, maxSeconds);
    }

    [Fact]
    public void ComputeDelay_NeverExceedsCap_EvenForHugeAttempts()
    {
        Assert.Equal(Cap, RetryPolicy.ComputeDelay(100, Base, Cap, 1));
        Assert.Equal(Cap / 2, RetryPolicy.ComputeDelay(100, Base, Cap, 0));
    }

    [Fact]
    public void ComputeDelay_RejectsAttemptZero() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RetryPolicy.ComputeDelay(0, Base, Cap, 0));
}
