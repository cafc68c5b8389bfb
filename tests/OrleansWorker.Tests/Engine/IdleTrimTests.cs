using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Execution;

namespace OrleansWorker.Tests.Engine;

/// <summary>When an idle silo gives its memory back: once per stretch of work, after the configured quiet time (fake clock).</summary>
public sealed class IdleTrimTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(10);

    [Fact]
    public void TrimsOnce_AfterTheQuietTime_FollowingWork()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var trim = new IdleTrim(Delay, time);
        Assert.False(trim.Due(started: 0, busy: 0, out _), "the first look only takes note");

        // Work: attempts start and run.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(trim.Due(started: 500, busy: 40, out _));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(trim.Due(started: 1000, busy: 0, out _), "the last attempts just ended: the quiet time starts now");

        time.Advance(Delay - TimeSpan.FromMilliseconds(1));
        Assert.False(trim.Due(started: 1000, busy: 0, out _), "not before the quiet time is over");

        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(trim.Due(started: 1000, busy: 0, out var attempts), "quiet for the whole delay after work: trim");
        Assert.Equal(1000, attempts);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(trim.Due(started: 1000, busy: 0, out _), "once per stretch of work, however long it stays idle");
    }

    [Fact]
    public void NeverTrims_WhileAnAttemptRuns_OrWhenNothingRanSinceTheLastTrim()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var trim = new IdleTrim(Delay, time);
        Assert.False(trim.Due(started: 0, busy: 0, out _));
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.False(trim.Due(started: 0, busy: 0, out _), "no work since start: nothing to give back");

        // One long attempt: nothing starts for minutes, but it holds the silo busy.
        Assert.False(trim.Due(started: 1, busy: 1, out _));
        time.Advance(TimeSpan.FromMinutes(3));
        Assert.False(trim.Due(started: 1, busy: 1, out _), "an attempt is running");
        Assert.False(trim.Due(started: 1, busy: 0, out _), "it just ended");
        time.Advance(Delay);
        Assert.True(trim.Due(started: 1, busy: 0, out var attempts));
        Assert.Equal(1, attempts);
    }

    [Fact]
    public void ZeroDelay_TurnsItOff()
    {
        var time = new FakeTimeProvider();
        var trim = new IdleTrim(TimeSpan.Zero, time);
        Assert.False(trim.Due(started: 0, busy: 0, out _));
        Assert.False(trim.Due(started: 10, busy: 0, out _));
        time.Advance(TimeSpan.FromHours(1));
        Assert.False(trim.Due(started: 10, busy: 0, out _), "off: never");
    }

    [Fact]
    public void Collect_GivesBackWhatWasFreed()
    {
        // A burst's garbage: 64 MiB in 1 MiB arrays, all unreachable afterwards.
        var burst = new List<byte[]>();
        for (var i = 0; i < 64; i++)
        {
            burst.Add(GC.AllocateUninitializedArray<byte>(1 << 20));
        }

        var held = GC.GetTotalMemory(forceFullCollection: false);
        Assert.True(held >= 64L << 20, $"the burst is on the heap ({held >> 20} MiB)");
        burst.Clear();
        var (before, after) = IdleTrim.Collect();
        Assert.True(before - after >= 48L << 20, $"the freed burst left the heap ({before >> 20} → {after >> 20} MiB)");
    }
}
