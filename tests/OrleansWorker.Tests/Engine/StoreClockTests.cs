using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Execution;

namespace OrleansWorker.Tests.Engine;

/// <summary>The engine's clock (<see cref="StoreClock"/>): the silo's own until a reading found a gap, then the store's, run on by the silo's monotonic clock.</summary>
public sealed class StoreClockTests
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void OnceItFollowsTheStore_AStepOfTheSilosWallClockDoesNotMoveIt()
    {
        var monotonic = new FakeTimeProvider(Start);
        var wall = new SteppingWall(monotonic);
        var clock = new StoreClock(wall);
        Assert.False(clock.FollowsStore);
        Assert.Null(clock.Uncertainty); // nothing decided yet
        Assert.Equal(wall.GetUtcNow(), clock.GetUtcNow());

        // A reading found the silo an hour ahead: from then on the clock is the store's time, run on by the silo.
        var store = Start.AddHours(-1);
        clock.Follow(store, wall.GetTimestamp(), TimeSpan.FromMilliseconds(3));
        Assert.True(clock.FollowsStore);
        Assert.Equal(TimeSpan.FromMilliseconds(3), clock.Uncertainty);
        Assert.Equal(TimeSpan.FromHours(1), clock.Offset);
        monotonic.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(store.AddSeconds(30), clock.GetUtcNow());

        // NTP steps the wall clock back by the hour: the clock does not move (a silo clock going by its wall clock less
        // the last gap would now be an hour behind every other silo until its next reading).
        wall.Step = TimeSpan.FromHours(-1);
        Assert.Equal(store.AddSeconds(30), clock.GetUtcNow());
        Assert.Equal(TimeSpan.Zero, clock.Offset);

        // The next reading finds the clocks agree: the silo's own clock again.
        clock.FollowLocal(TimeSpan.FromMilliseconds(101));
        Assert.False(clock.FollowsStore);
        Assert.Equal(TimeSpan.FromMilliseconds(101), clock.Uncertainty);
        Assert.Equal(wall.GetUtcNow(), clock.GetUtcNow());
    }

    [Fact]
    public async Task Waits_RunOnTheSilosOwnTimers_WhateverTheGap()
    {
        var monotonic = new FakeTimeProvider(Start);
        var clock = new StoreClock(monotonic);
        clock.Follow(Start.AddDays(-3), monotonic.GetTimestamp(), TimeSpan.Zero);
        var wait = Task.Delay(TimeSpan.FromSeconds(10), clock);
        monotonic.Advance(TimeSpan.FromSeconds(9));
        Assert.False(wait.IsCompleted);
        monotonic.Advance(TimeSpan.FromSeconds(1));
        await wait.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(Start.AddDays(-3).AddSeconds(10), clock.GetUtcNow());
    }
}
