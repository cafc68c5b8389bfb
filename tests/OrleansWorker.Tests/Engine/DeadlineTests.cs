using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Execution;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// The engine's own waits, periods and lease check on the silo's monotonic clock (<see cref="Deadline"/>,
/// <see cref="Period"/>, <see cref="JobDispatcher.Renewal"/>): a step of the wall clock neither stalls nor hurries them.
/// </summary>
public sealed class DeadlineTests
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void ADeadline_PassesAfterItsSpanOfMonotonicTime_WhateverTheWallClockDoes()
    {
        var monotonic = new FakeTimeProvider(Start);
        var wall = new SteppingWall(monotonic);
        var deadline = Deadline.In(wall, TimeSpan.FromSeconds(30));
        Assert.False(deadline.Passed);

        wall.Step = TimeSpan.FromHours(1); // forward: a deadline read off the wall clock would have passed
        Assert.False(deadline.Passed);
        Assert.Equal(TimeSpan.FromSeconds(30), deadline.Left);

        wall.Step = TimeSpan.FromHours(-1);
        monotonic.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(TimeSpan.FromSeconds(1), deadline.Left);
        monotonic.Advance(TimeSpan.FromSeconds(1)); // an hour back on the wall would have put it an hour off
        Assert.True(deadline.Passed);
    }

    [Fact]
    public void APeriodicStep_StaysDueEveryPeriod_AfterTheWallClockStepsBackAnHour()
    {
        var monotonic = new FakeTimeProvider(Start);
        var wall = new SteppingWall(monotonic);
        var count = new Period(wall, TimeSpan.FromSeconds(5), first: TimeSpan.Zero);
        Assert.True(count.Due());
        Assert.False(count.Due());

        wall.Step = TimeSpan.FromHours(-1);
        var due = 0;
        for (var second = 1; second <= 20; second++)
        {
            monotonic.Advance(TimeSpan.FromSeconds(1));
            due += count.Due() ? 1 : 0;
        }

        Assert.Equal(4, due); // at 5, 10, 15 and 20 s; read off the wall clock it would not be due for an hour
    }

    [Fact]
    public void ALease_CountsAsLost_WhenEitherClockSaysALeasePeriodHasPassed()
    {
        var monotonic = new FakeTimeProvider(Start);
        var wall = new SteppingWall(monotonic);
        var renewal = new JobDispatcher.Renewal(wall.GetUtcNow(), wall.GetTimestamp());
        monotonic.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(TimeSpan.FromSeconds(10), renewal.Since(wall.GetUtcNow(), wall));

        // The wall clock steps back an hour: 10 s have still passed since the renewal (the lease does not last an hour more).
        wall.Step = TimeSpan.FromHours(-1);
        Assert.Equal(TimeSpan.FromSeconds(10), renewal.Since(wall.GetUtcNow(), wall));

        // Forward past the monotonic clock (a machine resumed after the others ran on): the wall clock's 2 minutes count.
        wall.Step = TimeSpan.FromMinutes(2);
        Assert.Equal(TimeSpan.FromSeconds(130), renewal.Since(wall.GetUtcNow(), wall));
    }
}
