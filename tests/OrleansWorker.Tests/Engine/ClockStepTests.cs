using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using OrleansWorker.Client;
using OrleansWorker.Execution;
using OrleansWorker.Hosting;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Tests.Infrastructure;
using OrleansWorker.Tests.Storage;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// A silo or a client whose wall clock steps (an NTP correction, a resumed VM) or is off: an in-process silo on the
/// embedded store, the store on this machine's clock, the silo's and the client's <see cref="TimeProvider"/> that clock
/// with a step the test sets (their timestamps and timers are the machine's own).
/// </summary>
public sealed class ClockStepTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ow-clockstep-" + Guid.NewGuid().ToString("N"));
    private readonly SteppingWall _wall = new(TimeProvider.System);
    private readonly SteppingWall _clientWall = new(TimeProvider.System);
    private SqliteKvBackend? _backend;
    private InProcessTestCluster _cluster = null!;
    private IJobClient _jobs = null!;

    public async Task InitializeAsync()
    {
        _backend = new SqliteKvBackend(_directory, EmbeddedDurability.Process, 8 * 1024 * 1024, TimeProvider.System);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:PollInterval"] = "00:00:00.100",
        }).Build();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            // The engine takes the silo's TimeProvider; Orleans' own parts (each asks for one by a key of its own) keep
            // the machine's: Orleans schedules idle-activation collection on wall time and refuses a ticket an hour
            // behind the last one, which is Orleans' concern and not what this test is about.
            silo.Services.AddSingleton<TimeProvider>(_wall);
            silo.Services.AddKeyedSingleton<TimeProvider>(KeyedService.AnyKey, (_, _) => TimeProvider.System);
            silo.AddOrleansWorker(w => w
                .BindConfiguration(configuration.GetSection("Worker"))
                .AddBuiltInHandlers()
                .UseBackend(_ => new SharedBackend(_backend)));
        });
        builder.ConfigureClient(client =>
        {
            client.Services.AddSingleton<TimeProvider>(_clientWall);
            client.Services.AddKeyedSingleton<TimeProvider>(KeyedService.AnyKey, (_, _) => TimeProvider.System);
            client.Services.AddJobClient(configuration);
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        _jobs = _cluster.Client.ServiceProvider.GetRequiredService<IJobClient>();
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        if (_backend is not null)
        {
            await _backend.DisposeAsync();
        }

        TempDirectory.Delete(_directory);
    }

    private async Task RunsAJobAsync(string name)
    {
        var id = $"{name}-{Guid.NewGuid():N}";
        await _jobs.EnqueueAsync(new JobRequest("noop") { Id = id });
        await Poll.UntilAsync(() => _jobs.GetAsync(id), j => j?.State == JobState.Succeeded, TimeSpan.FromSeconds(20), $"job {id} to succeed");
    }

    [Fact]
    public async Task AfterTheSilosWallClockStepsBackAnHour_ItGoesByTheStoresTimeAgainWithinSeconds_AndRunsJobs()
    {
        var engine = _cluster.Silos[0].ServiceProvider.GetRequiredService<JobEngine>();
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
        var engine = _cluster.Silos[0].ServiceProvider.GetRequiredService<JobEngine>();
        Assert.True(engine.ClockOffset.Duration() < TimeSpan.FromSeconds(1), $"the silo's clock agrees with the store's: offset {engine.ClockOffset}");
        await RunsAJobAsync("late-client");
        var batch = await _jobs.EnqueueBatchAsync(new BatchRequest { Jobs = [new JobRequest("noop")] });
        Assert.True(batch.Accepted);
    }
}
