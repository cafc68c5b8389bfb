using OrleansWorker.Execution;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// The silo's slot accounting: a slot is a running handler; an outcome being written is held apart, and so is a claim
/// that waits for a slot.
/// </summary>
public sealed class AttemptTrackerTests
{
    private static ClaimedAttempt Claim(string id) => new() { JobId = id, Type = "noop", Queue = "default", Owner = "silo-a", ClaimToken = 1 };

    [Fact]
    public void HandlerEnded_FreesTheSlot_WhileTheAttemptIsStillHeld_UntilRemoved()
    {
        using var tracker = new AttemptTracker();
        var claims = new[] { Claim("a"), Claim("b") };
        tracker.AddWaiting(claims);
        Assert.Equal((0, 2, 2), (tracker.Executing, tracker.Busy, tracker.Waiting));
        Assert.Equal(claims, tracker.TakeForSlots(10));
        Assert.Equal((2, 2, 0), (tracker.Executing, tracker.Busy, tracker.Waiting));

        var running = claims.Select(c => new RunningAttempt(c)).ToList();
        Assert.All(running, r => Assert.True(tracker.TryAdd(r)));
        Assert.All(claims, tracker.RemovePending);
        Assert.Equal((2, 2, 0), (tracker.Executing, tracker.Busy, tracker.Storing));

        tracker.HandlerEnded(running[0]);
        tracker.HandlerEnded(running[0]); // once per attempt, however often it is said
        Assert.Equal((1, 2, 1), (tracker.Executing, tracker.Busy, tracker.Storing));

        tracker.Remove(running[0]);
        Assert.Equal((1, 1, 0), (tracker.Executing, tracker.Busy, tracker.Storing));

        // An attempt removed without its handler ending (abandoned before it returned) never counted as storing.
        tracker.Remove(running[1]);
        Assert.Equal((0, 0, 0), (tracker.Executing, tracker.Busy, tracker.Storing));
        running.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task HandlerEnded_WakesTheClaimLoop()
    {
        using var tracker = new AttemptTracker();
        var running = new RunningAttempt(Claim("a"));
        Assert.True(tracker.TryAdd(running));
        var wait = tracker.WaitForChangeAsync(TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.False(wait.IsCompleted, "nothing changed yet");

        tracker.HandlerEnded(running);
        await Poll.UntilAsync(() => wait.IsCompleted, TimeSpan.FromSeconds(30), "the claim loop's wait to end when a handler returns");
        tracker.Remove(running);
        running.Dispose();
    }

    [Fact]
    public void TakeForSlots_GivesWaitingClaimsTheFreeSlots_OldestFirst_AndNoMore()
    {
        using var tracker = new AttemptTracker();
        var claims = Enumerable.Range(0, 5).Select(i => Claim($"j{i}")).ToArray();
        tracker.AddWaiting(claims);
        Assert.True(tracker.Holds(claims[4].GrainKey), "a waiting claim is held by this silo (not an orphan to hand back)");

        // Three slots, none used: the three oldest claims take them; the other two wait, using none.
        Assert.Equal(claims[..3], tracker.TakeForSlots(3));
        Assert.Equal((3, 5, 2), (tracker.Executing, tracker.Busy, tracker.Waiting));
        Assert.Empty(tracker.TakeForSlots(3));

        // One handler runs, then returns: its slot goes to the next claim in line.
        var running = new RunningAttempt(claims[0]);
        Assert.True(tracker.TryAdd(running));
        tracker.RemovePending(claims[0]);
        Assert.Equal(3, tracker.Executing);
        Assert.Empty(tracker.TakeForSlots(3));
        tracker.HandlerEnded(running);
        Assert.Equal(1, tracker.Ended);
        Assert.Equal([claims[3]], tracker.TakeForSlots(3));
        Assert.Equal((3, 1), (tracker.Executing, tracker.Waiting));

        // Dropped without a slot (the silo stops): the claim is no longer held, and no slot is used for it.
        Assert.Equal([claims[4]], tracker.DropWaiting(_ => true));
        Assert.False(tracker.Holds(claims[4].GrainKey));
        Assert.Equal((3, 0, 4), (tracker.Executing, tracker.Waiting, tracker.Busy));
        tracker.Remove(running);
        running.Dispose();
    }

    [Fact]
    public void DropWaiting_DropsOnlyTheSelectedClaims_AndTheOthersKeepTheirOrder()
    {
        using var tracker = new AttemptTracker();
        var old = Enumerable.Range(0, 3).Select(i => Claim($"old{i}")).ToArray();
        var current = Enumerable.Range(0, 3).Select(i => Claim($"new{i}") with { Owner = "silo-a/2" }).ToArray();
        tracker.AddWaiting([old[0], current[0], old[1], current[1], old[2], current[2]]);

        Assert.Equal(old, tracker.DropWaiting(c => c.Owner == "silo-a"));
        Assert.Equal((3, 3, 0), (tracker.Waiting, tracker.Busy, tracker.Executing));
        Assert.All(old, c => Assert.False(tracker.Holds(c.GrainKey)));
        Assert.Equal(current, tracker.TakeForSlots(10));
    }

    [Fact]
    public async Task TakeForSlots_FromManyThreads_NeverPassesTheSlots()
    {
        using var tracker = new AttemptTracker();
        tracker.AddWaiting(Enumerable.Range(0, 1000).Select(i => Claim($"j{i}")).ToArray());
        var takers = Enumerable.Range(0, 8).Select(_ => Task.Run(() => tracker.TakeForSlots(50).Count)).ToArray();
        var taken = await Task.WhenAll(takers);
        Assert.Equal(50, taken.Sum());
        Assert.Equal((50, 950), (tracker.Executing, tracker.Waiting));
    }

    [Fact]
    public void SlotFreed_IsCalled_OnlyWhileClaimsWait()
    {
        using var tracker = new AttemptTracker();
        var calls = 0;
        tracker.SlotFreed = () => calls++;
        var first = new RunningAttempt(Claim("a"));
        Assert.True(tracker.TryAdd(first));
        tracker.HandlerEnded(first);
        Assert.Equal(0, calls);

        tracker.AddWaiting([Claim("b")]);
        tracker.Remove(first);
        Assert.Equal(1, calls);
        first.Dispose();
    }
}
