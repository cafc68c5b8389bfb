using OrleansWorker.Execution;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>The silo's slot accounting: a slot is a running handler; an outcome being written is held apart.</summary>
public sealed class AttemptTrackerTests
{
    private static ClaimedAttempt Claim(string id) => new() { JobId = id, Type = "noop", Queue = "default", Owner = "silo-a", ClaimToken = 1 };

    [Fact]
    public void HandlerEnded_FreesTheSlot_WhileTheAttemptIsStillHeld_UntilRemoved()
    {
        using var tracker = new AttemptTracker();
        var claims = new[] { Claim("a"), Claim("b") };
        tracker.AddPending(claims);
        Assert.Equal(2, tracker.Executing);

        var running = claims.Select(c => new RunningAttempt(c)).ToList();
        Assert.All(running, r => Assert.Equal(Admission.Started, tracker.Admit(r)));
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
        Assert.Equal(Admission.Started, tracker.Admit(running));
        var wait = tracker.WaitForChangeAsync(TimeSpan.FromMinutes(10), CancellationToken.None);
        Assert.False(wait.IsCompleted, "nothing changed yet");

        tracker.HandlerEnded(running);
        await Poll.UntilAsync(() => wait.IsCompleted, TimeSpan.FromSeconds(30), "the claim loop's wait to end when a handler returns");
        tracker.Remove(running);
        running.Dispose();
    }

    [Fact]
    public void AfterClose_NoAttemptStarts_AndADuplicateIsToldApart()
    {
        using var tracker = new AttemptTracker();
        var first = new RunningAttempt(Claim("a"));
        Assert.Equal(Admission.Started, tracker.Admit(first));
        using var again = new RunningAttempt(Claim("a"));
        Assert.Equal(Admission.AlreadyRunning, tracker.Admit(again));
        Assert.Equal(1, tracker.Started);

        // The silo stops: what runs is in the snapshot it abandons; nothing admitted after that runs.
        Assert.Same(first, Assert.Single(tracker.Close()));
        using var late = new RunningAttempt(Claim("b"));
        Assert.Equal(Admission.Refused, tracker.Admit(late));
        Assert.Equal((1, 1L), (tracker.Busy, tracker.Started)); // taken back: not counted, not held
        tracker.Remove(first);
        first.Dispose();
    }
}
