using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Execution;
using OrleansWorker.Handlers;
using OrleansWorker.Storage.Kv;
using OrleansWorker.Storage;
using OrleansWorker.Tests.Infrastructure;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// An attempt's timeout, through the runner the job grain uses, on the embedded store and a <c>FakeTimeProvider</c>.
/// The timer starts only when a handler goes asynchronous: these tests pin down that the time a handler spent before
/// that still counts, and that a handler which ignores its token still ends at its timeout.
/// </summary>
public sealed class AttemptTimeoutTests : IAsyncLifetime
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(5);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "ow-timeout-" + Guid.NewGuid().ToString("N"));
    private EngineHarness _silo = null!;
    private ServiceProvider _services = null!;
    private JobDispatcher _dispatcher = null!;
    private AttemptRunner _runner = null!;

    /// <summary>
    /// <c>stall</c>: keeps its thread for <c>busyMs</c> (the fake clock moves on, as if it computed), then returns at once
    /// (<c>hang: false</c>) or waits for a task that never completes, ignoring its token (<c>hang: true</c>).
    /// </summary>
    private sealed class StallHandler(TimeProvider time) : IJobHandler
    {
        public Task<string?> ExecuteAsync(JobContext context, CancellationToken cancellationToken)
        {
            using var args = JsonDocument.Parse(context.Payload!);
            ((FakeTimeProvider)time).Advance(TimeSpan.FromMilliseconds(args.RootElement.GetProperty("busyMs").GetInt32()));
            return args.RootElement.GetProperty("hang").GetBoolean() ? new TaskCompletionSource<string?>().Task : Task.FromResult<string?>("\"done\"");
        }
    }

    public Task InitializeAsync()
    {
        _silo = EngineHarness.Create(time => new SqliteKvBackend(_directory, EmbeddedDurability.Commit, 1024 * 1024, time, exclusive: false), new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero));
        _services = new ServiceCollection().AddSingleton<TimeProvider>(_silo.Time).AddTransient<StallHandler>().BuildServiceProvider();
        var handlers = new JobHandlerRegistry([JobRegistration.For(typeof(StallHandler), "stall")]);

        // The runner hands interrupted attempts to the dispatcher; none of these is interrupted, and no loop is started.
        _dispatcher = new JobDispatcher(_silo.Engine, null!, null!, _silo.Schedules, [], NullLogger<JobDispatcher>.Instance);
        _runner = new AttemptRunner(_silo.Engine, handlers, _services.GetRequiredService<IServiceScopeFactory>(), NullLoggerFactory.Instance, _dispatcher);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _dispatcher.Dispose();
        await _services.DisposeAsync();
        await _silo.DisposeAsync();
        TempDirectory.Delete(_directory);
    }

    /// <summary>Stores a <c>stall</c> job, claims it and starts its attempt; returns the running attempt and its run.</summary>
    private async Task<(RunningAttempt Running, Task Run)> StartAsync(string id, int busyMs, bool hang)
    {
        var job = new NewJob(id, "stall", "default", 0, JsonSerializer.Serialize(new { busyMs, hang }), 1, JobTimeout, null, _silo.Time.GetUtcNow(), null)
        {
            Seq = _silo.Engine.Sequence.Next(1),
        };
        Assert.True((await _silo.Store.InsertAsync([job])).Single()!.Created);
        var claim = Assert.Single(await _silo.ClaimAsync());
        var running = new RunningAttempt(claim);
        Assert.Equal(Admission.Started, _silo.Engine.Tracker.Admit(running));
        return (running, _runner.RunAsync(running));
    }

    private async Task<JobAttempt> EndedAttemptAsync(string id, Task run)
    {
        await run.WaitAsync(TimeSpan.FromSeconds(20));
        var view = await _silo.Store.GetAsync(id);
        return Assert.Single(view!.Attempts);
    }

    [Fact]
    public async Task AHandlerThatIgnoresItsToken_EndsTimedOut_WhenTheClockReachesTheTimeout()
    {
        var (running, run) = await StartAsync("ignores", busyMs: 0, hang: true);

        _silo.Time.Advance(JobTimeout - TimeSpan.FromSeconds(1));
        Assert.False(running.TimedOut, "the timeout fired a second early");
        Assert.False(running.Token.IsCancellationRequested);

        _silo.Time.Advance(TimeSpan.FromSeconds(1));
        var attempt = await EndedAttemptAsync("ignores", run);
        Assert.Equal(AttemptOutcome.TimedOut, attempt.Outcome);
        Assert.True(running.TimedOut);
    }

    [Fact]
    public async Task TimeSpentBeforeTheHandlerWentAsynchronous_Counts_SoOnePastItsTimeoutEndsAtOnce()
    {
        // 6 s of work before the handler waits: the timeout of 5 s is behind it, and the clock does not move again.
        var (running, run) = await StartAsync("late", busyMs: 6000, hang: true);
        var attempt = await EndedAttemptAsync("late", run);
        Assert.Equal(AttemptOutcome.TimedOut, attempt.Outcome);
        Assert.True(running.TimedOut);
    }

    [Fact]
    public async Task AHandlerThatReturnsAResult_KeepsIt_EvenPastItsTimeout_AndOneInTimeSucceeds()
    {
        var (_, slowRun) = await StartAsync("slow-but-done", busyMs: 6000, hang: false);
        Assert.Equal(AttemptOutcome.Succeeded, (await EndedAttemptAsync("slow-but-done", slowRun)).Outcome);

        var (running, quickRun) = await StartAsync("quick", busyMs: 10, hang: false);
        Assert.Equal(AttemptOutcome.Succeeded, (await EndedAttemptAsync("quick", quickRun)).Outcome);
        Assert.False(running.TimedOut);
    }
}
