using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Client;
using OrleansWorker.Tests.Engine;

namespace OrleansWorker.Tests.Library;

/// <summary>
/// The client's reading of the store's clock (<see cref="StoreTime"/>), which a submission's deadline is set on: read
/// through a silo once a minute, run on by the client's monotonic clock, its own clock when no silo answers.
/// </summary>
public sealed class StoreTimeTests
{
    private static readonly DateTimeOffset Start = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset StoreStart = Start.AddMinutes(5); // the store's clock is 5 minutes ahead of the client's

    private readonly FakeTimeProvider _monotonic = new(Start);
    private readonly SteppingWall _wall;
    private int _reads;

    public StoreTimeTests() => _wall = new SteppingWall(_monotonic);

    private Task<DateTimeOffset?> ReadStore()
    {
        _reads++;
        return Task.FromResult<DateTimeOffset?>(StoreStart + (_monotonic.GetUtcNow() - Start));
    }

    private Task<DateTimeOffset?> Fail()
    {
        _reads++;
        return Task.FromException<DateTimeOffset?>(new InvalidOperationException("no silo"));
    }

    [Fact]
    public async Task AReading_RunsOnByTheMonotonicClock_AndIsTakenAgainAfterAMinute()
    {
        var clock = new StoreTime(ReadStore, _wall, TimeSpan.FromSeconds(1));
        Assert.Equal(0, _reads);
        var reading = await clock.GetAsync();
        Assert.True(reading.FromStore);
        Assert.Equal(StoreStart, reading.Now);
        Assert.Equal(1, _reads);

        // The client's wall clock steps back an hour: the deadline it sets does not move.
        _wall.Step = TimeSpan.FromHours(-1);
        _monotonic.Advance(TimeSpan.FromSeconds(30));
        Assert.Same(reading, await clock.GetAsync());
        Assert.Equal(StoreStart.AddSeconds(30), reading.Now);
        Assert.Equal(1, _reads);

        _monotonic.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(StoreStart.AddMinutes(1), (await clock.GetAsync()).Now);
        Assert.Equal(2, _reads);
    }

    [Fact]
    public async Task CallersAtOnce_ShareOneRead()
    {
        var answer = new TaskCompletionSource<DateTimeOffset?>();
        var reads = 0;
        var clock = new StoreTime(() => { reads++; return answer.Task; }, _wall, TimeSpan.FromSeconds(1));
        var first = clock.GetAsync();
        var second = clock.GetAsync();
        Assert.False(first.IsCompleted);
        answer.SetResult(StoreStart);
        Assert.Same(await first, await second);
        Assert.Equal(1, reads);
    }

    [Fact]
    public async Task WithoutAnAnswer_ItIsTheClientsOwnClock_ReadAgainAfterAFewSeconds()
    {
        var fail = true;
        var clock = new StoreTime(() => fail ? Fail() : ReadStore(), _wall, TimeSpan.FromSeconds(1));
        var reading = await clock.GetAsync();
        Assert.False(reading.FromStore);
        Assert.Equal(Start, reading.Now);

        // A failed submission does not make it read again at once while it goes by its own clock (a silo that does not
        // answer would add its timeout to every submission).
        clock.Forget();
        Assert.Same(reading, await clock.GetAsync());
        Assert.Equal(1, _reads);

        fail = false;
        _monotonic.Advance(TimeSpan.FromSeconds(5));
        var next = await clock.GetAsync();
        Assert.True(next.FromStore);
        Assert.Equal(StoreStart.AddSeconds(5), next.Now);

        // A failed submission makes it read the store's clock again at the next one.
        clock.Forget();
        await clock.GetAsync();
        Assert.Equal(3, _reads);
    }

    [Fact]
    public async Task AReadThatTakesLongerThanItsBudget_LeavesTheClientOnItsOwnClock()
    {
        var never = new TaskCompletionSource<DateTimeOffset?>();
        var clock = new StoreTime(() => never.Task, _wall, TimeSpan.FromSeconds(1));
        var pending = clock.GetAsync();
        Assert.False(pending.IsCompleted);
        _monotonic.Advance(TimeSpan.FromSeconds(1));
        var reading = await pending.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(reading.FromStore);
        Assert.Equal(Start.AddSeconds(1), reading.Now);
    }

    [Fact]
    public async Task ASiloThatHasNotReadTheStoresClockYet_LeavesTheClientOnItsOwnClock_ForAFewSeconds()
    {
        var answers = new Queue<DateTimeOffset?>([null, StoreStart.AddSeconds(5)]);
        var clock = new StoreTime(() => Task.FromResult(answers.Dequeue()), _wall, TimeSpan.FromSeconds(1));
        var own = await clock.GetAsync();
        Assert.False(own.FromStore);
        Assert.Equal(Start, own.Now);

        _monotonic.Advance(TimeSpan.FromSeconds(5));
        var read = await clock.GetAsync();
        Assert.True(read.FromStore);
        Assert.Equal(StoreStart.AddSeconds(5), read.Now);
        Assert.Empty(answers);
    }
}
