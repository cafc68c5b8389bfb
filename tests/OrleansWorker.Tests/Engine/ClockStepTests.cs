using Microsoft.Extensions.DependencyInjection;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// A silo or a client whose wall clock steps (an NTP correction, a resumed VM) or is off: an in-process silo on the
/// embedded store, the store on this machine's clock, the silo's and the client's <see cref="TimeProvider"/> that clock
/// with a step the test sets (their timestamps and timers are the machine's own).
/// </summary>
public sealed class ClockStepTests : IAsyncLifetime
{
    private readonly SteppingWall _wall = new(TimeProvider.System);
    private readonly SteppingWall _clientWall = new(TimeProvider.System);
    private SingleSilo _silo = null!;

    public async Task InitializeAsync() => _silo = await SingleSilo.StartAsync(
        siloServices: services =>
        {
            // The engine takes the silo's TimeProvider; Orleans' own parts keep the machine's: Orleans schedules
            // idle-activation collection on wall time and refuses a ticket an hour behind the last one, which is Orleans'
            // concern and not what this test is about.
            services.AddSingleton<TimeProvider>(_wall);
            SingleSilo.OrleansOnMachineClock(services);
        },
        clientServices: services =>
        {
            services.AddSingleton<TimeProvider>(_clientWall);
            SingleSilo.OrleansOnMachineClock(services);
        });

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    private async Task RunsAJobAsync(string name)
    {
        var id = $"{name}-{Guid.NewGuid():N}";
        await _silo.Jobs.EnqueueAsync(new JobRequest("noop") { Id = id });
        await Poll.UntilAsync(() => _silo.Jobs.GetAsync(id), j => j?.State == JobState.Succeeded, TimeSpan.FromSeconds(20), $"job {id} to succeed");
    }

    [Fact]
    public async Task AfterTheSilosWallClockStepsBackAnHour_ItGoesByTheStoresTimeAgainWithinSeconds_AndRunsJobs()
    {
        var engine = _silo.Engine;
        await RunsAJobAsync("before");
        Assert.True(engine.ClockOffset.Duration() < TimeSpan.FromSeconds(1), $"the clocks agree at first: offset {engine.ClockOffset}");

        // The step shows in the engine's time at once: while the clocks agreed it went by the silo's own.
        _wall.Step = TimeSpan.FromHours(-1);
        Assert.True(engine.Time.GetUtcNow() < DateTimeOffset.UtcNow.AddMinutes(-59), $"engine time {engine.Time.GetUtcNow():O} right after the step");

        // Its next reading of the store's clock (every 5 s) finds the hour and goes by the store's time: that reading must
        // not itself wait an hour because the engine's time went back by one.
        await Poll.UntilAsync(() => engine.ClockOffset < TimeSpan.FromMinutes(-59), TimeSpan.FromSeconds(30), "the silo to find its clock an hour behind the store's");
        var gap = engine.Time.GetUtcNow() - DateTimeOffset.UtcNow;
        Assert.True(gap.Duration() < TimeSpan.FromSeconds(5), $"the engine's time is {gap} from the store's");
        Assert.InRange(engine.Instruments.ClockSkewSeconds, -3605, -3595); // published
        await RunsAJobAsync("after");
    }

    [Fact]
    public async Task AClientWhoseClockIsMinutesBehindTheStores_StillSubmits()
    {
        // A submission carries a deadline (notAfter) the store judges by its own clock: set on a client clock behind the
        // store's by more than the try window (2/3 of the 10 s call timeout), every submission arrived "too late".
        _clientWall.Step = TimeSpan.FromMinutes(-5);
        Assert.True(_silo.Engine.ClockOffset.Duration() < TimeSpan.FromSeconds(1), $"the silo's clock agrees with the store's: offset {_silo.Engine.ClockOffset}");
        await RunsAJobAsync("late-client");
        var batch = await _silo.Jobs.EnqueueBatchAsync(new BatchRequest { Jobs = [new JobRequest("noop")] });
        Assert.True(batch.Accepted);
    }
}
