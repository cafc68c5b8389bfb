using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OrleansWorker.Execution;
using OrleansWorker.Handlers;
using OrleansWorker.Hosting;
using OrleansWorker.Storage;
using OrleansWorker.Storage.Kv;

namespace OrleansWorker.Tests.Engine;

/// <summary>
/// The engine's per-silo core (<see cref="JobEngine"/>, <see cref="RecurringJobs"/>, <see cref="JobFollowUps"/>) on a
/// real embedded store, driven by a <see cref="FakeTimeProvider"/>: no silo, no loops — a test moves the clock and
/// calls what the dispatcher would. Several harnesses can share one store (silos racing).
/// </summary>
internal sealed class EngineHarness : IAsyncDisposable
{
    private static readonly string[] HandlerNames = ["noop", "echo", "sleep", "fail"];
    private readonly ServiceProvider _services;
    private readonly bool _ownsBackend;
    private readonly IKvBackend _backend;

    private readonly string _prefix;

    private EngineHarness(IKvBackend backend, string prefix, bool ownsBackend, FakeTimeProvider time, int port, Action<WorkerOptions>? configure)
    {
        _prefix = prefix;
        _backend = backend;
        _ownsBackend = ownsBackend;
        Time = time;
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var options = new WorkerOptions();
        configure?.Invoke(options);
        Store = new JobStore(new Storage.SharedBackend(backend), prefix, 1);
        var tracker = new AttemptTracker();
        var instruments = new JobInstruments(_services.GetRequiredService<IMeterFactory>(), tracker);
        Engine = new JobEngine(Store, Options.Create(options), time, tracker, instruments, new FakeSilo(port), NullLoggerFactory.Instance);
        var handlers = new JobHandlerRegistry(HandlerNames.Select(n => JobRegistration.For(typeof(NoopHandler), n)));
        Schedules = new RecurringJobs(Engine, handlers, NullLogger<RecurringJobs>.Instance);
    }

    public FakeTimeProvider Time { get; }

    public JobStore Store { get; }

    public JobEngine Engine { get; }

    public RecurringJobs Schedules { get; }

    /// <summary>A harness on a store made by <paramref name="backend"/> (owned by the harness), its clock at <paramref name="start"/>.</summary>
    public static EngineHarness Create(Func<FakeTimeProvider, IKvBackend> backend, DateTimeOffset start, Action<WorkerOptions>? configure = null)
    {
        var time = new FakeTimeProvider(start);
        return new EngineHarness(backend(time), "t" + Guid.NewGuid().ToString("N")[..8], ownsBackend: true, time, 11111, configure);
    }

    /// <summary>A second "silo" on the same store and the same clock.</summary>
    public EngineHarness Twin(int port = 11112, Action<WorkerOptions>? configure = null) => new(_backend, _prefix, ownsBackend: false, Time, port, configure);

    /// <summary>Claims up to <paramref name="max"/> ready jobs as this silo.</summary>
    public async Task<IReadOnlyList<ClaimedAttempt>> ClaimAsync(int max = 100, params string[] queues)
    {
        var now = Time.GetUtcNow();
        var outcome = await Store.ClaimAsync(0, Engine.Owner, max, (queues.Length == 0 ? ["default"] : queues).Select(q => (q, max)).ToList(), now, now + TimeSpan.FromSeconds(30), []);
        return outcome.Attempts;
    }

    /// <summary>Ends an attempt as a runner would, through the engine (so its follow-ups run).</summary>
    public async Task<ApplyOutcome> EndAsync(ClaimedAttempt claim, AttemptOutcome outcome, bool permanent = false)
    {
        var end = new AttemptEnd(outcome, outcome == AttemptOutcome.Succeeded ? "null" : null,
            outcome == AttemptOutcome.Succeeded ? null : new JobError("Boom", "failed"), permanent);
        var (_, applied) = await Completion.ApplyAsync(JobRules.AttemptEnded(claim, end, Time.GetUtcNow(), Engine.Retry, 1.0), Engine.ApplyAsync);
        return applied;
    }

    /// <summary>Ends an attempt storing only its outcome, as a silo that died right after (no follow-ups).</summary>
    public async Task EndWithoutFollowUpsAsync(ClaimedAttempt claim, AttemptOutcome outcome)
    {
        var end = new AttemptEnd(outcome, outcome == AttemptOutcome.Succeeded ? "null" : null, outcome == AttemptOutcome.Succeeded ? null : new JobError("Boom", "failed"), Permanent: true);
        Assert.Equal(ApplyOutcome.Applied, (await Store.ApplyAsync([JobRules.AttemptEnded(claim, end, Time.GetUtcNow(), Engine.Retry, 1.0)]))[0]);
    }

    /// <summary>Runs every ready job of the listed queues to <paramref name="outcome"/>; returns their ids.</summary>
    public async Task<List<string>> RunReadyAsync(AttemptOutcome outcome = AttemptOutcome.Succeeded, params string[] queues)
    {
        var ran = new List<string>();
        foreach (var claim in await ClaimAsync(100, queues))
        {
            await EndAsync(claim, outcome, permanent: outcome == AttemptOutcome.Failed);
            ran.Add(claim.JobId);
        }

        return ran;
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        if (_ownsBackend)
        {
            await _backend.DisposeAsync();
        }

        await _services.DisposeAsync();
    }

    private sealed class FakeSilo(int port) : ILocalSiloDetails
    {
        public string Name => "test-silo-" + port;

        public string ClusterId => "test";

        public string DnsHostName => "localhost";

        public SiloAddress SiloAddress { get; } = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), 1);

        public SiloAddress GatewayAddress => SiloAddress;
    }
}
